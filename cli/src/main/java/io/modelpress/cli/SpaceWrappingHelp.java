package io.modelpress.cli;

import picocli.CommandLine.Help;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

import java.util.ArrayList;
import java.util.IllegalFormatException;
import java.util.List;
import java.util.Map;

/**
 * Usage help that wraps lines at spaces only. Picocli wraps with {@link java.text.BreakIterator}'s line rules, which
 * also break after '.', ':', '/' and ',' inside a word: "report.json" came out as "report." and "json" on two lines,
 * and a URL broke after "http://127.". File names, URLs and numbers in help text must stay whole to be copied, so
 * every wrapped column (the description, the option and parameter lists, the command list, header and footer) is
 * laid out by {@link SpaceWrappingTable}. The layout itself (columns, widths, indents) stays picocli's.
 */
final class SpaceWrappingHelp extends Help {
    SpaceWrappingHelp(CommandSpec spec, ColorScheme colorScheme) {
        super(spec, colorScheme);
    }

    @Override
    public String description(Object... params) {
        return fullWidth(commandSpec().usageMessage().description(), params);
    }

    @Override
    public String header(Object... params) {
        return fullWidth(commandSpec().usageMessage().header(), params);
    }

    @Override
    public String footer(Object... params) {
        return fullWidth(commandSpec().usageMessage().footer(), params);
    }

    @Override
    public Layout createDefaultLayout(List<OptionSpec> options, List<PositionalParamSpec> positionals, ColorScheme colors) {
        Layout picocli = super.createDefaultLayout(options, positionals, colors);
        SpaceWrappingTable table = new SpaceWrappingTable(colors, picocli.textTable());
        return new Layout(colors, table, picocli.optionRenderer(), picocli.parameterRenderer());
    }

    /** Picocli's command list (name, then the first line of the header or description), wrapped at spaces. */
    @Override
    public String commandList(Map<String, Help> subcommands) {
        if (subcommands.isEmpty()) {
            return "";
        }
        int width = commandSpec().usageMessage().width();
        int nameWidth = Math.min(subcommands.keySet().stream().mapToInt(String::length).max().orElse(0), width / 2);
        TextTable table = new SpaceWrappingTable(colorScheme(), TextTable.forColumns(colorScheme(),
                new Column(nameWidth + 2, 2, Column.Overflow.SPAN),
                new Column(width - (nameWidth + 2), 2, Column.Overflow.WRAP)));
        for (Help help : subcommands.values()) {
            var usage = help.commandSpec().usageMessage();
            String summary = usage.header().length > 0 ? usage.header()[0]
                    : usage.description().length > 0 ? usage.description()[0] : "";
            Ansi.Text[] lines = colorScheme().text(format(summary)).splitLines();
            for (int i = 0; i < lines.length; i++) {
                table.addRowValues(i == 0 ? help.commandNamesText(", ") : colorScheme().text(""), lines[i]);
            }
        }
        return table.toString();
    }

    /** Lines over the whole usage width, as picocli's {@code Help.join} lays out the description, header and footer. */
    private String fullWidth(String[] lines, Object... params) {
        TextTable table = new SpaceWrappingTable(colorScheme(),
                TextTable.forColumnWidths(colorScheme(), commandSpec().usageMessage().width()));
        table.indentWrappedLines = 0;
        for (String line : lines) {
            table.addRowValues(format(line, params));
        }
        return table.toString();
    }

    /** Picocli's formatting of help text: %n becomes a line break; text that is no format string stays as it is. */
    private static String format(String text, Object... params) {
        try {
            return String.format(text, params);
        } catch (IllegalFormatException e) {
            return text;
        }
    }

    /**
     * A picocli text table whose wrapping columns break lines at spaces only. A word longer than a whole line is the
     * one thing still cut (by picocli), as nothing else fits.
     */
    static final class SpaceWrappingTable extends TextTable {
        private final ColorScheme colors;
        private final Column[] columns;

        /** A table with the columns and wrapped-line indent of {@code layout}. */
        SpaceWrappingTable(ColorScheme colors, TextTable layout) {
            super(colors, layout.columns());
            this.colors = colors;
            this.columns = layout.columns();
            this.indentWrappedLines = layout.indentWrappedLines;
            setAdjustLineBreaksForWideCJKCharacters(layout.isAdjustLineBreaksForWideCJKCharacters());
        }

        @Override
        public Cell putValue(int row, int col, Ansi.Text value) {
            Column column = columns[col];
            if (column.overflow != Column.Overflow.WRAP || value == null) {
                return super.putValue(row, col, value);
            }
            // Each piece fits its line, so picocli writes it without breaking it again.
            List<Ansi.Text> lines = wrapAtSpaces(value, column.width - column.indent, column.width - column.indent - indentWrappedLines);
            Cell cell = super.putValue(row, col, lines.get(0));
            Ansi.Text indent = colors.text(" ".repeat(indentWrappedLines));
            for (Ansi.Text line : lines.subList(1, lines.size())) {
                addEmptyRow();
                cell = super.putValue(cell.row + 1, col, indent.concat(line));
            }
            return cell;
        }

        /** Greedy line filling: the first line has {@code firstRoom} characters, the others {@code room}. */
        static List<Ansi.Text> wrapAtSpaces(Ansi.Text value, int firstRoom, int room) {
            String plain = value.plainString();
            List<Ansi.Text> lines = new ArrayList<>();
            int start = 0;
            int available = firstRoom;
            while (plain.length() - start > available) {
                int firstWordEnd = plain.indexOf(' ', skipSpaces(plain, start));
                if (firstWordEnd < 0) { // the rest is one word
                    break;
                }
                // the last space that fits; a first word longer than the line is kept whole
                int end = Math.max(plain.lastIndexOf(' ', start + available), firstWordEnd);
                lines.add(value.substring(start, end));
                start = skipSpaces(plain, end);
                available = room;
            }
            lines.add(value.substring(start));
            return lines;
        }

        private static int skipSpaces(String text, int from) {
            int i = from;
            while (i < text.length() && text.charAt(i) == ' ') {
                i++;
            }
            return i;
        }
    }
}
