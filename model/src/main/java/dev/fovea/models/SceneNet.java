package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Activation;
import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.nn.Layer;
import dev.fovea.nn.Act;
import dev.fovea.nn.Block;
import dev.fovea.nn.Conv2d;
import dev.fovea.nn.Init;
import dev.fovea.nn.LayerNorm;
import dev.fovea.nn.Linear;
import dev.fovea.nn.Sequential;
import dev.fovea.tensor.Shape;
import dev.fovea.tensor.Tensor;

/**
 * A dense-prediction ViT for the tasks beyond classification: a small convolutional stem (a hybrid ViT's, as in
 * Dosovitskiy et al. §3.1) turns the image into one token per 8×8 cell, transformer blocks mix the tokens, and
 * per-token linear heads read them:
 * <ul>
 *   <li>detection ({@code cls_head}, {@code box_head}): for every cell, logits over background + K classes (an object
 *       whose centre region covers the cell, as FCOS assigns them) and the distances from the cell's centre to the
 *       object's four sides, as fractions of the image side (sigmoid, so they are positive and the box never inverts);</li>
 *   <li>image class ({@code image_head}, localization): logits over the K classes from the mean of the tokens — the
 *       class of a one-object image learnt from every image, not only from the few cells around its object;</li>
 *   <li>segmentation ({@code seg_head}): logits over background + K classes for each of the cell's 64 pixels, decoded
 *       linearly from the token and the cell's own pixels (SETR's "naive" per-patch decoder with a skip connection
 *       from the input, as U-Net's, which gives the coarse token the item's exact outline).</li>
 * </ul>
 * Which heads exist depends on the task: localization and detection have the detection heads, semantic segmentation
 * the segmentation head, instance segmentation both (a detected box and the foreground inside it make an
 * instance's mask); with neither it is an encoder (a captioner's).
 */
public final class SceneNet extends Layer {
    /** Pixels per token side. */
    public static final int STRIDE = 8;

    /**
     * @param classes object classes (background excluded)
     */
    public record Config(int imgSize, int inChans, int classes, int dim, int depth, int heads, boolean detection, boolean segmentation, boolean imageClass) {
        /** Without the image-level class head. */
        public Config(int imgSize, int inChans, int classes, int dim, int depth, int heads, boolean detection, boolean segmentation) {
            this(imgSize, inChans, classes, dim, depth, heads, detection, segmentation, false);
        }

        /** The scene model Fovea trains by default: width 64, 4 blocks of 4 heads. */
        public static Config standard(int imgSize, int inChans, int classes, boolean detection, boolean segmentation, boolean imageClass) {
            return new Config(imgSize, inChans, classes, 64, 4, 4, detection, segmentation, imageClass);
        }

        public Config {
            if (imgSize < STRIDE || imgSize % STRIDE != 0)
                throw new IllegalArgumentException("scene model: the image side must be a multiple of " + STRIDE + ", got " + imgSize);
            if (inChans != 1 && inChans != 3) throw new IllegalArgumentException("scene model: images must have 1 or 3 channels, got " + inChans);
            if (classes < 1) throw new IllegalArgumentException("scene model: at least one object class, got " + classes);
            if (dim % heads != 0) throw new IllegalArgumentException("scene model: width " + dim + " is not divisible by " + heads + " heads");
        }

        public int grid() { return imgSize / STRIDE; }
        public int cells() { return grid() * grid(); }
    }

    /**
     * What the heads say about a batch of B images with N = grid² cells.
     *
     * @param cls [B·N, 1 + K] logits, background first (null without detection)
     * @param box [B·N, 4] (left, top, right, bottom) distances from the cell centre over the image side, in (0, 1)
     * @param corners [B·N, 4] the same boxes as (x0, y0, x1, y1) over the image side
     * @param image [B, K] the image's class logits (null without that head)
     * @param seg [B·N·64, 1 + K] logits per pixel, rows in (image, cell row, cell column, pixel row, pixel column) order
     */
    public record Out(Var cls, Var box, Var corners, Var seg, Var image) {}

    private final Config cfg;
    public final Conv2d stem1, stem2, stem3;
    public final Var posEmbed;
    public final Sequential blocks;
    public final LayerNorm norm;
    public final Linear clsHead, boxHead, segHead, imageHead;
    /** For the box corners: each cell's centre (x, y, x, y) over the image side [N, 4], and the signs (−1, −1, 1, 1). */
    private final Tensor centres, signs;

    public SceneNet(Backend be, Config cfg, long seed) {
        this.cfg = cfg;
        Init init = new Init(seed);
        int d = cfg.dim();
        // 3×3 stride 2, 3×3 stride 2, 2×2 stride 2: an 8×8 cell per token, each seeing 19×19 pixels
        stem1 = child("stem.0", new Conv2d(be, init, cfg.inChans(), d / 2, 3, Conv2dSpec.of(1, 2)));
        stem2 = child("stem.1", new Conv2d(be, init, d / 2, d, 3, Conv2dSpec.of(1, 2)));
        stem3 = child("stem.2", new Conv2d(be, init, d, d, 2, Conv2dSpec.of(0, 2)));
        posEmbed = param("pos_embed", init.truncNormal(be, 0.02f, 1, cfg.cells(), d));
        blocks = child("blocks", new Sequential());
        for (int i = 0; i < cfg.depth(); i++)
            blocks.add(Integer.toString(i), new Block(be, init, d, cfg.heads(), 4f, true, 1e-6f, Act.Kind.GELU, false));
        norm = child("norm", new LayerNorm(be, init, d, 1e-6f));
        int outs = 1 + cfg.classes();
        clsHead = cfg.detection() ? child("cls_head", Linear.timm(be, init, d, outs, true)) : null;
        boxHead = cfg.detection() ? child("box_head", Linear.timm(be, init, d, 4, true)) : null;
        if (cfg.detection()) {
            int n = cfg.cells(), g = cfg.grid();
            float[] centre = new float[n * 4];
            for (int q = 0; q < n; q++) {
                float cx = ((q % g) * STRIDE + STRIDE / 2f) / cfg.imgSize(), cy = ((q / g) * STRIDE + STRIDE / 2f) / cfg.imgSize();
                centre[q * 4] = centre[q * 4 + 2] = cx;
                centre[q * 4 + 1] = centre[q * 4 + 3] = cy;
            }
            centres = be.upload(centre, n, 4);
            signs = be.upload(new float[]{-1, -1, 1, 1}, 4);
        } else {
            centres = signs = null;
        }
        imageHead = cfg.imageClass() ? child("image_head", Linear.timm(be, init, d, cfg.classes(), true)) : null;
        segHead = cfg.segmentation() ? child("seg_head", Linear.timm(be, init, d + STRIDE * STRIDE * cfg.inChans(), STRIDE * STRIDE * outs, true)) : null;
    }

    public Config config() { return cfg; }

    /** The tokens after the encoder: x [B, C, S, S] → [B, N, D]. */
    @Override public Var forward(Tape t, Var x) {
        if (x.value().rank() != 4 || x.dim(1) != cfg.inChans() || x.dim(2) != cfg.imgSize() || x.dim(3) != cfg.imgSize())
            throw new IllegalArgumentException("scene model: input: expected [B, " + cfg.inChans() + ", " + cfg.imgSize() + ", " + cfg.imgSize() + "], got " + Shape.str(x.shape()));
        int b = x.dim(0), d = cfg.dim(), n = cfg.cells();
        Var h = t.activation(Activation.GELU, stem1.forward(t, x));               // [B, D/2, S/2, S/2]
        h = t.activation(Activation.GELU, stem2.forward(t, h));                   // [B, D, S/4, S/4]
        h = stem3.forward(t, h);                                                  // [B, D, G, G]
        h = t.permute(t.reshape(h, b, d, n), 0, 2, 1);                            // [B, N, D]
        h = t.add(h, t.reshape(posEmbed, n, d));
        return norm.forward(t, blocks.forward(t, h));
    }

    /** All heads this model has, on images x [B, C, S, S]. */
    public Out heads(Tape t, Var x) {
        Var tokens = forward(t, x);
        int b = x.dim(0), n = cfg.cells(), outs = 1 + cfg.classes(), c = cfg.inChans(), g = cfg.grid();
        Var cls = null, box = null, corners = null, seg = null;
        if (clsHead != null) {
            cls = t.reshape(clsHead.forward(t, tokens), b * n, outs);
            box = t.activation(Activation.SIGMOID, t.reshape(boxHead.forward(t, tokens), b * n, 4));
            // (x0, y0, x1, y1) = the cell's centre + (−l, −t, r, b)
            Var signed = t.mul(box, t.constantView(signs));
            corners = t.reshape(t.add(t.reshape(signed, b, n, 4), t.constantView(centres)), b * n, 4);
        }
        if (segHead != null) {
            // each cell's pixels: [B, C, G, 8, G, 8] → [B, G, G, 8, 8, C] → [B, N, 64·C]
            Var px = t.reshape(t.permute(t.reshape(x, b, c, g, STRIDE, g, STRIDE), 0, 2, 4, 3, 5, 1), b, n, STRIDE * STRIDE * c);
            seg = t.reshape(segHead.forward(t, t.concat(2, tokens, px)), b * n * STRIDE * STRIDE, outs);
        }
        Var image = imageHead == null ? null : imageHead.forward(t, t.meanFirst(t.permute(tokens, 1, 0, 2)));   // mean over the cells
        return new Out(cls, box, corners, seg, image);
    }

    @Override public void close() {
        super.close();
        if (centres != null) { centres.close(); signs.close(); }
    }
}
