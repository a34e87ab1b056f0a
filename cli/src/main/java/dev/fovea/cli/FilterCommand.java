package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.Images;
import dev.fovea.nn.Filters;
import dev.fovea.tensor.Tensor;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code fovea filter}: a classic kernel over an image file or a typed matrix, by the backend's conv2d. */
@Command(name = "filter", description = {"Slide a classic kernel over an image or a typed matrix, by the backend's conv2d.",
        "An image (PNG/JPEG) is written as PNG; a typed matrix is printed. Cross-correlation, zero padding.",
        "Named kernels: identity, edge (0,-1,0;-1,4,-1;0,-1,0), edge8 (-1,-1,-1;-1,8,-1;-1,-1,-1), sharpen, box-blur."})
final class FilterCommand implements Callable<Integer> {
    @Option(names = "--kernel", description = "a named kernel or rows like \"0,1,0;1,-4,1;0,1,0\" (default: ${DEFAULT-VALUE})") String kernel = "edge";
    @Option(names = "--padding", description = "zero padding on each side (default: ${DEFAULT-VALUE})") int padding;
    @Option(names = "--stride", description = "stride (default: ${DEFAULT-VALUE})") int stride = 1;

    @ArgGroup(multiplicity = "1") Input input;

    static final class Input {
        @Option(names = "--image", description = "input image file") Path image;
        @Option(names = "--matrix", description = "input typed as rows: \"1,2,3;4,5,6;...\"") String matrix;
    }

    @Option(names = "--out", description = "output PNG for --image (default: INPUT-KERNEL.png beside the input)") Path out;
    @Option(names = "--overwrite", description = "replace the output PNG if it exists") boolean overwrite;
    @Mixin EngineOptions engine;

    @Override public Integer call() throws IOException {
        float[][] k = Filters.kernel(kernel);
        try (Backend be = engine.open()) {
            if (input.matrix != null) {
                float[][] m = Filters.matrix(input.matrix, "matrix");
                int h = m.length, w = m[0].length;
                float[] flat = new float[h * w];
                for (int y = 0; y < h; y++) System.arraycopy(m[y], 0, flat, y * w, w);
                try (Tensor x = be.upload(flat, 1, h, w); Tensor y = Filters.apply(be, x, k, padding, stride)) {
                    System.out.printf(Locale.ROOT, "input %dx%d, kernel %dx%d, padding %d, stride %d -> output %dx%d%n",
                            h, w, k.length, k[0].length, padding, stride, y.dim(1), y.dim(2));
                    System.out.print(format(y.toArray(), y.dim(1), y.dim(2)));
                }
                return 0;
            }
            ImageFiles.Planes p = ImageFiles.planes(Images.read(input.image));
            Path dst = out != null ? out : defaultOut(input.image);
            ImageFiles.refuseToReplace(dst, overwrite);
            try (Tensor x = be.upload(p.data(), p.channels(), p.height(), p.width()); Tensor y = Filters.apply(be, x, k, padding, stride)) {
                ImageFiles.writePng(new ImageFiles.Planes(p.channels(), y.dim(1), y.dim(2), y.toArray()), dst);
                System.out.printf(Locale.ROOT, "filtered %s (%dx%d, %s) with %s -> %s (%dx%d, values clamped to 0..255)%n", input.image, p.width(), p.height(),
                        p.channels() == 1 ? "grey" : "RGB, each channel", kernel, dst, y.dim(2), y.dim(1));
            }
            return 0;
        }
    }

    private Path defaultOut(Path in) {
        String name = in.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        String tag = Filters.KERNELS.containsKey(kernel) ? kernel : "kernel";
        return in.resolveSibling(stem + "-" + tag + ".png");
    }

    /** Right-aligned rows; integers without decimals. */
    static String format(float[] v, int h, int w) {
        boolean ints = true;
        for (float f : v) ints &= f == Math.rint(f) && Math.abs(f) < 1e9;
        String[] cells = new String[v.length];
        int width = 1;
        for (int i = 0; i < v.length; i++) {
            float f = v[i] == 0 ? 0f : v[i];
            cells[i] = ints ? Long.toString((long) f) : String.format(Locale.ROOT, "%.4g", f);
            width = Math.max(width, cells[i].length());
        }
        StringBuilder sb = new StringBuilder();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) sb.append(x == 0 ? "" : " ").append(" ".repeat(width - cells[y * w + x].length())).append(cells[y * w + x]);
            sb.append('\n');
        }
        return sb.toString();
    }
}
