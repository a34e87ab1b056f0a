package dev.fovea.io;

/** The safetensors element types Fovea reads (all four) and writes (F32, I64). */
public enum DType {
    F32(4), F16(2), BF16(2), I64(8);

    public final int bytes;

    DType(int bytes) { this.bytes = bytes; }
}
