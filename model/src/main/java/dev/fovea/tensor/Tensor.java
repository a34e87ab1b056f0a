package dev.fovea.tensor;

import dev.fovea.backend.Backend;

import java.util.Arrays;

/**
 * A dense, row-major float32 tensor that lives on one backend. A tensor created by the backend owns its storage
 * and frees it on {@link #close()}; a {@link #reshape view} shares its parent's storage and frees nothing.
 */
public final class Tensor implements AutoCloseable {
    private final Backend backend;
    private final Storage storage;
    private final int[] shape;
    private final boolean owner;

    /** Called by backends; user code gets tensors from {@link Backend}. */
    public Tensor(Backend backend, Storage storage, int[] shape, boolean owner) {
        long n = Shape.numel(shape);
        if (n != storage.elements() && !storage.isReleased())
            throw new IllegalArgumentException("shape " + Shape.str(shape) + " holds " + n
                    + " elements but the storage has " + storage.elements());
        this.backend = backend;
        this.storage = storage;
        this.shape = shape.clone();
        this.owner = owner;
    }

    public Backend backend() { return backend; }
    public Storage storage() { return storage; }

    /** A copy of the shape. */
    public int[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }

    /** Size of dimension {@code i}; negative {@code i} counts from the end. */
    public int dim(int i) {
        int j = i < 0 ? shape.length + i : i;
        if (j < 0 || j >= shape.length)
            throw new IndexOutOfBoundsException("dimension " + i + " of a rank-" + shape.length + " tensor");
        return shape[j];
    }

    public int numel() { return (int) Shape.numel(shape); }

    public boolean hasShape(int... s) { return Arrays.equals(shape, s); }

    /** A view with another shape of the same element count, sharing this tensor's storage. */
    public Tensor reshape(int... newShape) {
        if (Shape.numel(newShape) != numel())
            throw new IllegalArgumentException("reshape: cannot view " + Shape.str(shape) + " (" + numel()
                    + " elements) as " + Shape.str(newShape) + " (" + Shape.numel(newShape) + " elements)");
        return new Tensor(backend, storage, newShape, false);
    }

    /** Copies the contents to a new host array. */
    public float[] toArray() { return backend.download(this); }

    public boolean isClosed() { return storage.isReleased(); }

    @Override public void close() {
        if (owner) storage.release();
    }

    @Override public String toString() {
        return "Tensor" + Shape.str(shape) + "@" + backend.name();
    }
}
