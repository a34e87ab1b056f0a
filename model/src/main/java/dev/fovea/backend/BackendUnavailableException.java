package dev.fovea.backend;

/** A backend was asked for that cannot run here; the message says exactly why. */
public class BackendUnavailableException extends RuntimeException {
    public BackendUnavailableException(String message) { super(message); }
    public BackendUnavailableException(String message, Throwable cause) { super(message, cause); }
}
