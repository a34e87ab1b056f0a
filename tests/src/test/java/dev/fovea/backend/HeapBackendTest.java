package dev.fovea.backend;

import dev.fovea.reference.ReferenceBackend;
import dev.fovea.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Recycled host arrays: zeros() stays zero, a closed tensor stays closed, accounting stays exact. */
class HeapBackendTest {
    @Test void recycledArraysAreZeroedForZerosAndReusedByEmpty() {
        HeapBackend be = new ReferenceBackend();
        Tensor a = be.zeros(5000);
        float[] arr = ((dev.fovea.tensor.HeapStorage) a.storage()).data();
        be.fill(a, 7f);
        a.close();
        Tensor b = be.empty(5000);
        assertSame(arr, ((dev.fovea.tensor.HeapStorage) b.storage()).data(), "empty() reuses a released array of the same length");
        b.close();
        Tensor c = be.zeros(5000);
        for (float v : c.toArray()) assertEquals(0f, v);
        assertThrows(IllegalArgumentException.class, () -> be.fill(a, 1f), "a closed tensor stays closed after its array is reused");
        assertEquals(4 * 5000, be.bytesInUse());
        c.close();
        assertEquals(0, be.bytesInUse());
    }

    @Test void everyArrayOfAClosedForwardPassIsReusedByTheNext() {
        // an inference tape frees all its activations at once, dozens of one length: the next pass gets them all back
        HeapBackend be = new ReferenceBackend();
        java.util.Set<float[]> first = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        Tensor[] ts = new Tensor[40];
        for (int i = 0; i < ts.length; i++) first.add(((dev.fovea.tensor.HeapStorage) (ts[i] = be.empty(6000)).storage()).data());
        for (Tensor t : ts) t.close();
        for (int i = 0; i < ts.length; i++) {
            ts[i] = be.empty(6000);
            assertTrue(first.contains(((dev.fovea.tensor.HeapStorage) ts[i].storage()).data()), "allocation " + i + " reuses a released array");
        }
        for (Tensor t : ts) t.close();
        assertEquals(0, be.bytesInUse());
    }

    @Test void aTensorFromAnotherInstanceIsNamedAsSuch() {
        HeapBackend a = new ReferenceBackend(), b = new ReferenceBackend();
        try (Tensor t = a.zeros(3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.fill(t, 1f));
            assertEquals("fill: t lives on another instance of backend 'reference' (tensors cannot move between backend instances)", e.getMessage());
        }
    }
}
