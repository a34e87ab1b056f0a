package dev.fovea.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header mapping names to
 * dtype/shape/data_offsets (plus an optional {@code __metadata__} string map), then the raw little-endian data.
 * Everything is validated on open, so a truncated or corrupt file fails with a message instead of giving garbage.
 * The mapping is released on {@link #close()}.
 */
public final class SafetensorsFile implements AutoCloseable {
    private static final long MAX_HEADER = 100L << 20;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor's header entry; {@code begin}/{@code end} are byte offsets into the file. */
    public record Entry(String name, DType dtype, int[] shape, long begin, long end) {
        public int numel() { long n = 1; for (int d : shape) n *= d; return (int) n; }
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, MemorySegment file, Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.entries = entries;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) throws IOException {
        if (Files.isDirectory(path)) throw new IOException(path + ": a folder, not a safetensors file");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment seg = size == 0 ? MemorySegment.ofArray(new byte[0]) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return parse(path, arena, seg, size);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(Path path, Arena arena, MemorySegment seg, long size) throws SafetensorsException {
        String where = path.toString();
        if (size < 8)
            throw new SafetensorsException(where + ": file is " + size + " bytes; a safetensors file starts with an 8-byte header length (truncated?)");
        long n = seg.get(I64, 0);
        if (n <= 0 || n > MAX_HEADER)
            throw new SafetensorsException(where + ": header length " + n + " at byte 0 is not plausible (expected 1.." + MAX_HEADER + ")");
        if (8 + n > size)
            throw new SafetensorsException(where + ": header length " + n + " at byte 0 runs past the end of the file (" + size + " bytes): truncated or not safetensors");
        byte[] hb = seg.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        Object root;
        try {
            root = Json.parse(new String(hb, StandardCharsets.UTF_8));
        } catch (Json.ParseException e) {
            throw new SafetensorsException(where + ": invalid JSON header (bytes 8.." + (8 + n) + "): " + e.getMessage()
                    + " (byte offset about " + (8 + e.offset) + ")");
        }
        if (!(root instanceof Map<?, ?> top)) throw new SafetensorsException(where + ": JSON header is not an object");
        long dataStart = 8 + n, dataSize = size - dataStart;
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : top.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> mm)) throw new SafetensorsException(where + ": __metadata__ is not an object");
                for (Map.Entry<?, ?> me : mm.entrySet()) {
                    if (!(me.getValue() instanceof String v))
                        throw new SafetensorsException(where + ": __metadata__ value of \"" + me.getKey() + "\" is not a string");
                    meta.put((String) me.getKey(), v);
                }
                continue;
            }
            String t = where + ": tensor \"" + name + "\"";
            if (!(e.getValue() instanceof Map<?, ?> info)) throw new SafetensorsException(t + ": header entry is not an object");
            if (!(info.get("dtype") instanceof String ds)) throw new SafetensorsException(t + ": missing \"dtype\"");
            DType dtype;
            try { dtype = DType.valueOf(ds); }
            catch (IllegalArgumentException ex) {
                throw new SafetensorsException(t + ": unsupported dtype \"" + ds + "\" (Fovea reads F32, F16, BF16, I64)");
            }
            if (!(info.get("shape") instanceof List<?> sl)) throw new SafetensorsException(t + ": missing \"shape\"");
            int[] shape = new int[sl.size()];
            long numel = 1;
            for (int i = 0; i < shape.length; i++) {
                if (!(sl.get(i) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE)
                    throw new SafetensorsException(t + ": shape " + sl + " has an invalid dimension " + sl.get(i));
                shape[i] = (int) (long) d;
                numel *= d;
                if (numel > Integer.MAX_VALUE) throw new SafetensorsException(t + ": shape " + sl + " has more than 2^31-1 elements");
            }
            if (!(info.get("data_offsets") instanceof List<?> ol) || ol.size() != 2 || !(ol.get(0) instanceof Long b) || !(ol.get(1) instanceof Long en))
                throw new SafetensorsException(t + ": \"data_offsets\" must be [begin, end], got " + info.get("data_offsets"));
            if (b < 0 || en < b || en > dataSize)
                throw new SafetensorsException(t + ": data_offsets [" + b + ", " + en + "] are outside the data section of " + dataSize
                        + " bytes (file bytes " + dataStart + ".." + size + ")" + (en > dataSize ? ": file truncated?" : ""));
            if (en - b != numel * dtype.bytes)
                throw new SafetensorsException(t + ": shape " + sl + " of " + dtype + " needs " + numel * dtype.bytes + " bytes but data_offsets [" + b + ", " + en + "] hold " + (en - b));
            entries.put(name, new Entry(name, dtype, shape, dataStart + b, dataStart + en));
        }
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < sorted.size(); i++) {
            Entry p = sorted.get(i - 1), c = sorted.get(i);
            if (c.begin() < p.end())
                throw new SafetensorsException(where + ": tensors \"" + p.name() + "\" (bytes " + p.begin() + ".." + p.end() + ") and \""
                        + c.name() + "\" (bytes " + c.begin() + ".." + c.end() + ") overlap");
        }
        return new SafetensorsFile(path, arena, seg, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(meta));
    }

    public Path path() { return path; }
    public Map<String, String> metadata() { return metadata; }
    /** Tensor names in header order. */
    public List<String> names() { return List.copyOf(entries.keySet()); }
    public boolean contains(String name) { return entries.containsKey(name); }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException(path + ": no tensor named \"" + name + "\"");
        return e;
    }

    /** The tensor's raw bytes, a slice of the mapping (valid until close). */
    public MemorySegment bytes(String name) {
        Entry e = entry(name);
        return file.asSlice(e.begin(), e.end() - e.begin());
    }

    /** The tensor's values as floats, widening F16 and BF16. I64 is refused (use {@link #longs}). */
    public float[] floats(String name) {
        Entry e = entry(name);
        MemorySegment b = bytes(name);
        int n = e.numel();
        float[] out = new float[n];
        switch (e.dtype()) {
            case F32 -> MemorySegment.copy(b, F32, 0, out, 0, n);
            case F16 -> { for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(b.getAtIndex(U16, i)); }
            case BF16 -> { for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((b.getAtIndex(U16, i) & 0xffff) << 16); }
            case I64 -> throw new IllegalArgumentException(path + ": tensor \"" + name + "\" is I64, not a floating-point tensor");
        }
        return out;
    }

    /** The tensor's values as longs; only I64 tensors. */
    public long[] longs(String name) {
        Entry e = entry(name);
        if (e.dtype() != DType.I64)
            throw new IllegalArgumentException(path + ": tensor \"" + name + "\" is " + e.dtype() + ", not I64");
        long[] out = new long[e.numel()];
        MemorySegment.copy(bytes(name), I64, 0, out, 0, out.length);
        return out;
    }

    @Override public void close() { arena.close(); }
}
