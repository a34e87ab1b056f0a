package dev.fovea.io;

import java.util.Map;

/** Reading a checkpoint's string metadata: a missing or malformed entry is an error naming the file and the key. */
public final class Metadata {
    private Metadata() {}

    public static String string(String source, Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) throw new IllegalArgumentException(source + ": the metadata lacks \"" + key + "\"");
        return v;
    }

    public static int integer(String source, Map<String, String> m, String key) {
        String v = string(source, m, key);
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + ": metadata \"" + key + "\" is not an integer: " + v);
        }
    }

    public static long longInteger(String source, Map<String, String> m, String key) {
        String v = string(source, m, key);
        try {
            return Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + ": metadata \"" + key + "\" is not an integer: " + v);
        }
    }

    public static float number(String source, Map<String, String> m, String key) {
        String v = string(source, m, key);
        try {
            return Float.parseFloat(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + ": metadata \"" + key + "\" is not a number: " + v);
        }
    }
}
