package dev.fovea.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Builds a safetensors file of F32 and I64 tensors and writes it atomically: to a temporary file beside the
 * target, flushed to disk, then renamed over it, so a crash never leaves a half-written file under the real name.
 */
public final class SafetensorsWriter {
    private record Item(DType dtype, int[] shape, byte[] bytes) {}

    private final Map<String, Item> items = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public SafetensorsWriter putFloats(String name, float[] data, int... shape) {
        check(name, data.length, shape);
        ByteBuffer b = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(data);
        items.put(name, new Item(DType.F32, shape.clone(), b.array()));
        return this;
    }

    public SafetensorsWriter putLongs(String name, long[] data, int... shape) {
        check(name, data.length, shape);
        ByteBuffer b = ByteBuffer.allocate(8 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(data);
        items.put(name, new Item(DType.I64, shape.clone(), b.array()));
        return this;
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    private void check(String name, int length, int[] shape) {
        if (name.equals("__metadata__")) throw new IllegalArgumentException("\"__metadata__\" is reserved in safetensors");
        if (items.containsKey(name)) throw new IllegalArgumentException("tensor \"" + name + "\" added twice");
        long n = 1;
        for (int d : shape) n *= d;
        if (n != length) throw new IllegalArgumentException("tensor \"" + name + "\": shape " + java.util.Arrays.toString(shape) + " needs " + n + " values, got " + length);
    }

    /** The header JSON, padded with spaces to a multiple of 8 bytes as the format recommends. */
    byte[] header() {
        StringBuilder h = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            h.append("\"__metadata__\":{");
            boolean first = true;
            for (var e : metadata.entrySet()) {
                if (!first) h.append(',');
                first = false;
                h.append(Json.quote(e.getKey())).append(':').append(Json.quote(e.getValue()));
            }
            h.append('}');
        }
        long off = 0;
        for (var e : items.entrySet()) {
            if (h.length() > 1) h.append(',');
            Item it = e.getValue();
            h.append(Json.quote(e.getKey())).append(":{\"dtype\":\"").append(it.dtype()).append("\",\"shape\":[");
            for (int i = 0; i < it.shape().length; i++) h.append(i == 0 ? "" : ",").append(it.shape()[i]);
            h.append("],\"data_offsets\":[").append(off).append(',').append(off + it.bytes().length).append("]}");
            off += it.bytes().length;
        }
        h.append('}');
        while ((h.toString().getBytes(StandardCharsets.UTF_8).length) % 8 != 0) h.append(' ');
        return h.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Writes the file atomically (temporary file + rename); an existing file at {@code target} stays intact on failure. */
    public void write(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
        try {
            // a temporary file is private (0600); the checkpoint is an output like the others, readable as they are
            if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix"))
                Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                 OutputStream os = java.nio.channels.Channels.newOutputStream(ch)) {
                byte[] header = header();
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
                os.write(len.array());
                os.write(header);
                for (Item it : items.values()) os.write(it.bytes());
                os.flush();
                ch.force(true);
            } catch (IOException e) {
                // a full disk or a failing device: the JDK's message names no file
                throw new IOException(abs + ": could not write (" + e.getMessage() + "); the previous file, if any, is unchanged", e);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
