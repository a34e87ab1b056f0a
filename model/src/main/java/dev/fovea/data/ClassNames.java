package dev.fovea.data;

import dev.fovea.io.Json;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A classifier's class names in a checkpoint's metadata: key {@value #KEY}, a JSON array of strings in label order. */
public final class ClassNames {
    private ClassNames() {}

    public static final String KEY = "labels";

    public static Map<String, String> toMetadata(List<String> names) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < names.size(); i++) sb.append(i > 0 ? "," : "").append(Json.quote(names.get(i)));
        return Map.of(KEY, sb.append(']').toString());
    }

    /**
     * The names recorded in {@code m}, or null when there are none; a malformed entry, or one whose count is not the
     * model's {@code classes}, is an error naming {@code source}.
     */
    public static List<String> fromMetadata(String source, Map<String, String> m, int classes) {
        String v = m.get(KEY);
        if (v == null) return null;
        List<String> names = new ArrayList<>();
        try {
            if (!(Json.parse(v) instanceof List<?> l)) throw new IllegalArgumentException(source + ": \"" + KEY + "\" is not a JSON array of names");
            for (Object o : l) {
                if (!(o instanceof String s)) throw new IllegalArgumentException(source + ": \"" + KEY + "\" holds " + o + ", not a name");
                names.add(s);
            }
        } catch (Json.ParseException e) {
            throw new IllegalArgumentException(source + ": \"" + KEY + "\" is not valid JSON: " + e.getMessage());
        }
        if (names.size() != classes)
            throw new IllegalArgumentException(source + ": \"" + KEY + "\" names " + names.size() + " classes, the model has " + classes);
        return List.copyOf(names);
    }

    /** "class 0", "class 1", ...: names for classes nothing names. */
    public static List<String> numbered(int classes) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < classes; i++) out.add("class " + i);
        return out;
    }
}
