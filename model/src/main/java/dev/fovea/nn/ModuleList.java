package dev.fovea.nn;

/** Modules kept under numbered names ("blocks.0", "blocks.1") that the owner calls itself, as PyTorch's ModuleList. */
public final class ModuleList extends Module {
    private int size;

    public <M extends Module> M add(M m) { return child(Integer.toString(size++), m); }

    public int size() { return size; }
}
