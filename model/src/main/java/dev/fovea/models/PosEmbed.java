package dev.fovea.models;

import dev.fovea.data.Resample;

/**
 * Resamples learned 1D position embeddings to another patch grid, as timm's {@code resample_abs_pos_embed} does when
 * a checkpoint meets another image size: the prefix (class token) rows are kept, the patch rows are read as an
 * H×W×D image and resized with PyTorch's antialiased bicubic ({@code F.interpolate(mode="bicubic", antialias=True)}),
 * which is Pillow's resampler ({@link Resample#bicubic}).
 */
public final class PosEmbed {
    private PosEmbed() {}

    /**
     * posemb [1, prefix + oldH*oldW, dim] (row-major) → [1, prefix + newH*newW, dim].
     */
    public static float[] resample(float[] posemb, int prefix, int oldH, int oldW, int newH, int newW, int dim) {
        int expected = (prefix + oldH * oldW) * dim;
        if (posemb.length != expected)
            throw new IllegalArgumentException("pos_embed: expected " + expected + " values for " + prefix + " prefix tokens and a "
                    + oldH + "x" + oldW + " grid of width " + dim + ", got " + posemb.length);
        if (newH < 1 || newW < 1) throw new IllegalArgumentException("pos_embed: new grid " + newH + "x" + newW + " is empty");
        float[] out = new float[(prefix + newH * newW) * dim];
        System.arraycopy(posemb, 0, out, 0, prefix * dim);
        float[] grid = Resample.bicubic(posemb, prefix * dim, oldH, oldW, dim, newH, newW);
        System.arraycopy(grid, 0, out, prefix * dim, grid.length);
        return out;
    }
}
