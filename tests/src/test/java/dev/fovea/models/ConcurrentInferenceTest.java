package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.nn.Layer;
import dev.fovea.testing.Bed;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

/**
 * One loaded model serving several threads at once, each with its own tape (the README's thread contract): every
 * answer equals, bit for bit, what one thread alone computes for the same image.
 */
class ConcurrentInferenceTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));

    @AfterAll static void close() { CPU.close(); }

    static float[] logits(Layer model, float[] image) {
        try (Tape t = Tape.inference(CPU)) {
            return model.forward(t, t.constant(CPU.upload(image, 1, 1, 28, 28))).value().toArray();
        }
    }

    void serveManyThreads(Layer model) throws Exception {
        model.train(false);
        SplittableRandom r = new SplittableRandom(4);
        float[][] images = new float[8][784];
        for (float[] im : images) for (int i = 0; i < im.length; i++) im[i] = (float) r.nextGaussian();
        Bed.sameOnFourThreads(images.length, 40, i -> logits(model, images[i]));
    }

    @Test void lenet5ServesFourThreadsAtOnce() throws Exception {
        try (Layer m = Models.create(CPU, "lenet5", null, 1)) { serveManyThreads(m); }
    }

    @Test void vitServesFourThreadsAtOnce() throws Exception {
        try (Layer m = Models.create(CPU, "vit", null, 1)) { serveManyThreads(m); }
    }
}
