package dev.fovea.backend;

/** Arithmetic used for matrix products. float32 is the default; the others only when asked. */
public enum Precision { FP32, TF32, BF16 }
