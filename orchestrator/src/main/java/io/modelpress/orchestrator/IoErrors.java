package io.modelpress.orchestrator;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One-line descriptions of local I/O failures that name the path and the reason. Java's file-system exceptions often
 * carry only the path as their message ({@code AccessDeniedException: /tmp/x}), or only the reason; these say both.
 */
final class IoErrors {
    private IoErrors() {
    }

    /** E.g. {@code /tmp/uploads: permission denied}, or the exception's own message when it names no file. */
    static String describe(IOException e) {
        if (e instanceof FileSystemException fs && fs.getFile() != null) {
            String file = fs.getFile() + (fs.getOtherFile() == null ? "" : " -> " + fs.getOtherFile());
            return file + ": " + reason(fs);
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    /** The first I/O failure among a throwable and its causes (frameworks wrap them in RuntimeExceptions). */
    static Optional<IOException> find(Throwable t) {
        for (Throwable cause = t; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (cause instanceof IOException io) {
                return Optional.of(io);
            }
        }
        return Optional.empty();
    }

    private static String reason(FileSystemException e) {
        if (e.getReason() != null) {
            return e.getReason();
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (e instanceof NotDirectoryException) {
            return "not a directory";
        }
        if (e instanceof DirectoryNotEmptyException) {
            return "directory not empty";
        }
        if (e instanceof FileAlreadyExistsException) {
            // what Files.createDirectories throws for a path that is a file
            Path path = Path.of(e.getFile());
            return Files.exists(path) && !Files.isDirectory(path) ? "exists and is not a directory" : "already exists";
        }
        return e.getClass().getSimpleName();
    }
}
