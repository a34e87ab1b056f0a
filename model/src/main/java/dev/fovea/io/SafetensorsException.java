package dev.fovea.io;

import java.io.IOException;

/** A safetensors file that cannot be read as such; the message names the file, the tensor and what is wrong. */
public class SafetensorsException extends IOException {
    public SafetensorsException(String message) { super(message); }
}
