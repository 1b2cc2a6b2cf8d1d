package io.modelpress.devstack;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.util.Arrays;

/**
 * Runs another main class and exits when this process's standard input reaches its end. The JVM that starts a
 * tied child keeps the write end of that pipe open; the operating system closes it when that JVM ends, even by
 * SIGKILL or a crash, so a test run never leaves a broker behind.
 *
 * <p>Usage: {@code ExitWithParent <main class> [arguments...]}
 */
public final class ExitWithParent {

    private static final long HALT_AFTER_MILLIS = 30_000;

    private ExitWithParent() {}

    public static void main(String[] args) throws ReflectiveOperationException {
        if (args.length == 0) {
            System.err.println("usage: ExitWithParent <main class> [arguments...]");
            System.exit(2);
        }
        Thread watcher = new Thread(ExitWithParent::exitAtEndOfInput, "exit-with-parent");
        watcher.setDaemon(true);
        watcher.start();
        try {
            Class.forName(args[0])
                    .getMethod("main", String[].class)
                    .invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
        } catch (InvocationTargetException e) {
            // Exit at once: threads the service started before failing could otherwise keep the JVM alive.
            e.getCause().printStackTrace();
            System.exit(1);
        }
    }

    private static void exitAtEndOfInput() {
        InputStream in = System.in;
        byte[] buffer = new byte[256];
        try {
            while (in.read(buffer) >= 0) {
                // the parent never writes; anything it does is ignored
            }
        } catch (IOException e) {
            // a broken pipe means the same as end of input
        }
        System.err.println("devstack: the parent JVM has gone; shutting down");
        // System.exit runs the service's shutdown hooks, so it stops cleanly; a hook that hangs must not keep an
        // orphaned service alive, so the process halts if the clean exit takes too long.
        Thread halt = new Thread(() -> {
            try {
                Thread.sleep(HALT_AFTER_MILLIS);
            } catch (InterruptedException ignored) {
                // halting anyway
            }
            System.err.println("devstack: shutdown hooks did not finish in " + HALT_AFTER_MILLIS / 1000 + " s; halting");
            Runtime.getRuntime().halt(1);
        }, "halt-after-timeout");
        halt.setDaemon(true);
        halt.start();
        System.exit(0);
    }
}
