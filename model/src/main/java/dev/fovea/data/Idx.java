package dev.fovea.data;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * The IDX format of MNIST and Fashion-MNIST: a big-endian magic 0x0000TTNN (TT = 0x08 for unsigned bytes, NN the
 * number of dimensions), NN big-endian int32 sizes, then the data. Raw or gzip-compressed (detected by its magic).
 */
public final class Idx {
    /** Unsigned-byte data with its dimensions. */
    public record Array(int[] dims, byte[] data) {
        public int count() { return dims[0]; }
        /** Elements per record (the product of all but the first dimension). */
        public int recordSize() { int n = 1; for (int i = 1; i < dims.length; i++) n *= dims[i]; return n; }
    }

    /** A file that is not valid IDX: names the file, the byte offset and what is wrong. */
    public static final class FormatException extends IOException {
        public FormatException(String source, long offset, String what) {
            super(source + ": byte " + offset + ": " + what);
        }
    }

    private Idx() {}

    /** Reads the whole array, decompressing gzip; {@code expectDims} is 1 (labels) or 3 (images), or 0 for any. */
    public static Array read(String source, InputStream raw, int expectDims) throws IOException {
        BufferedInputStream in = new BufferedInputStream(raw);
        in.mark(2);
        int b0 = in.read(), b1 = in.read();
        in.reset();
        byte[] bytes;
        try (InputStream s = b0 == 0x1f && b1 == 0x8b ? new GZIPInputStream(in, 1 << 16) : in) {
            bytes = readAll(s);
        } catch (java.util.zip.ZipException | java.io.EOFException e) {
            throw new IOException(source + ": corrupt gzip stream: " + e.getMessage(), e);
        }
        return parse(source, bytes, expectDims);
    }

    static Array parse(String source, byte[] b, int expectDims) throws FormatException {
        if (b.length < 4) throw new FormatException(source, 0, "file is " + b.length + " bytes, too short for the 4-byte IDX magic");
        ByteBuffer bb = ByteBuffer.wrap(b);
        int magic = bb.getInt();
        if ((magic >>> 16) != 0) throw new FormatException(source, 0, String.format("wrong magic 0x%08x: an IDX file starts with two zero bytes", magic));
        int type = (magic >>> 8) & 0xff, nd = magic & 0xff;
        if (type != 0x08) throw new FormatException(source, 2, String.format("data type 0x%02x is not unsigned byte (0x08)", type));
        if (nd < 1) throw new FormatException(source, 3, "zero dimensions");
        if (expectDims != 0 && nd != expectDims)
            throw new FormatException(source, 3, nd + " dimensions, expected " + expectDims + (expectDims == 1 ? " (labels)" : " (images)"));
        if (b.length < 4 + 4L * nd) throw new FormatException(source, b.length, "header needs " + (4 + 4 * nd) + " bytes, file has " + b.length);
        int[] dims = new int[nd];
        long n = 1;
        for (int i = 0; i < nd; i++) {
            dims[i] = bb.getInt();
            if (dims[i] < 0) throw new FormatException(source, 4 + 4L * i, "negative size " + dims[i] + " of dimension " + i);
            n *= dims[i];
        }
        long header = 4 + 4L * nd, have = b.length - header;
        if (have < n) throw new FormatException(source, b.length, "truncated: dimensions " + Arrays.toString(dims) + " need " + n
                + " data bytes after the " + header + "-byte header, file has " + have);
        if (have > n) throw new FormatException(source, header + n, "count mismatch: " + (have - n) + " bytes beyond the " + n + " that dimensions " + Arrays.toString(dims) + " describe");
        return new Array(dims, Arrays.copyOfRange(b, (int) header, b.length));
    }

    private static byte[] readAll(InputStream s) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(1 << 20);
        s.transferTo(out);
        return out.toByteArray();
    }
}
