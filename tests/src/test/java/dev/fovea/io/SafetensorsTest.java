package dev.fovea.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Safetensors reading and writing, and every way a file can be broken. */
class SafetensorsTest {
    @TempDir Path dir;

    @Test void roundTripKeepsValuesShapesAndMetadata() throws IOException {
        Path p = dir.resolve("a.safetensors");
        float[] w = {1.5f, -2f, 3.25f, 0f, Float.MIN_VALUE, -0f};
        long[] ids = {7, -1, Long.MAX_VALUE};
        new SafetensorsWriter().putFloats("layer.weight", w, 2, 3).putLongs("ids", ids, 3).putFloats("scalar", new float[]{4f})
                .metadata("arch", "test \"quoted\"\n").write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertArrayEquals(w, f.floats("layer.weight"));
            assertArrayEquals(new int[]{2, 3}, f.entry("layer.weight").shape());
            assertArrayEquals(ids, f.longs("ids"));
            assertArrayEquals(new int[0], f.entry("scalar").shape());
            assertEquals("test \"quoted\"\n", f.metadata().get("arch"));
            assertEquals(java.util.List.of("layer.weight", "ids", "scalar"), f.names());
        }
    }

    @Test void readsF16AndBf16() throws IOException {
        float[] vals = {1f, -0.5f, 65504f, 0.099975586f};
        ByteBuffer f16 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN), bf16 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : vals) { f16.putShort(Float.floatToFloat16(v)); bf16.putShort((short) (Float.floatToRawIntBits(v) >>> 16)); }
        Path p = raw("{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]}}",
                concat(f16.array(), bf16.array()));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            float[] a = f.floats("a"), b = f.floats("b");
            for (int i = 0; i < 4; i++) {
                assertEquals(vals[i], a[i], Math.abs(vals[i]) * 1e-3, "F16 " + i);
                assertEquals(Float.intBitsToFloat(Float.floatToRawIntBits(vals[i]) & 0xffff0000), b[i], "BF16 " + i);
            }
        }
    }

    @Test void readsTheSharedFixtures() throws Exception {
        Path p = Path.of(getClass().getResource("/fixtures/lenet5.safetensors").toURI());
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertArrayEquals(new int[]{6, 1, 5, 5}, f.entry("c1.weight").shape());
            assertEquals(8, f.longs("io.labels").length);
            assertEquals("LeNet5", f.metadata().get("arch"));
        }
    }

    @Test void writeIsAtomicAndLeavesNoTemporaryFiles() throws IOException {
        Path p = dir.resolve("ck.safetensors");
        new SafetensorsWriter().putFloats("x", new float[]{1f}, 1).write(p);
        new SafetensorsWriter().putFloats("x", new float[]{2f}, 1).write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) { assertEquals(2f, f.floats("x")[0]); }
        try (var s = Files.list(dir)) { assertEquals(1, s.count(), "only the target file remains"); }
    }

    @Test void writerRejectsShapeMismatchAndDuplicates() {
        SafetensorsWriter w = new SafetensorsWriter().putFloats("a", new float[4], 2, 2);
        assertMessage(assertThrows(IllegalArgumentException.class, () -> w.putFloats("a", new float[1], 1)), "added twice");
        assertMessage(assertThrows(IllegalArgumentException.class, () -> w.putFloats("b", new float[3], 2, 2)), "needs 4 values, got 3");
    }

    // ---------------------------------------------------------------- bad files

    @Test void emptyAndTinyFiles() throws IOException {
        Path p = dir.resolve("tiny.safetensors");
        Files.write(p, new byte[3]);
        assertBad(p, "tiny.safetensors", "3 bytes", "8-byte header length");
        Files.write(p, new byte[0]);
        assertBad(p, "tiny.safetensors", "0 bytes", "8-byte header length");
    }

    @Test void headerLengthBeyondTheFile() throws IOException {
        Path p = dir.resolve("long.safetensors");
        ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
        Files.write(p, b.array());
        assertBad(p, "header length 1000", "runs past the end of the file (20 bytes)");
    }

    @Test void truncatedData() throws IOException {
        Path p = dir.resolve("t.safetensors");
        new SafetensorsWriter().putFloats("w", new float[10], 10).write(p);
        byte[] all = Files.readAllBytes(p);
        Files.write(p, Arrays.copyOf(all, all.length - 4));
        assertBad(p, "tensor \"w\"", "outside the data section", "truncated");
    }

    @Test void invalidJson() throws IOException {
        assertBad(raw("{\"a\": {\"dtype\": \"F32\", ", new byte[0]), "invalid JSON header", "byte offset");
        assertBad(raw("[1,2]", new byte[0]), "not an object");
    }

    @Test void unknownDtype() throws IOException {
        assertBad(raw("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]), "tensor \"w\"", "unsupported dtype \"F8_E4M3\"");
    }

    @Test void offsetsOutOfRangeOrNotMatchingTheShape() throws IOException {
        assertBad(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[8]), "tensor \"w\"", "outside the data section");
        assertBad(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]), "tensor \"w\"", "needs 12 bytes", "hold 8");
        assertBad(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", new byte[8]), "tensor \"w\"");
        assertBad(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]), "tensor \"w\"", "invalid dimension");
        assertBad(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", new byte[8]), "tensor \"w\"", "data_offsets");
    }

    @Test void overlappingTensors() throws IOException {
        assertBad(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]),
                "\"a\"", "\"b\"", "overlap");
    }

    @Test void wrongKindOfAccess() throws IOException {
        Path p = dir.resolve("k.safetensors");
        new SafetensorsWriter().putLongs("l", new long[]{1}, 1).putFloats("f", new float[]{1f}, 1).write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertMessage(assertThrows(IllegalArgumentException.class, () -> f.floats("l")), "\"l\" is I64");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> f.longs("f")), "\"f\" is F32, not I64");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> f.floats("missing")), "no tensor named \"missing\"");
        }
    }

    private Path raw(String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        Path p = Files.createTempFile(dir, "raw", ".safetensors");
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(p, b.array());
        return p;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static void assertBad(Path p, String... fragments) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().contains(p.toString()), "names the file: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + e.getMessage() + "' should mention '" + f + "'");
    }

    private static void assertMessage(Exception e, String fragment) {
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should mention '" + fragment + "'");
    }
}
