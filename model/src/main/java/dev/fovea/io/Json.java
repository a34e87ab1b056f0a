package dev.fovea.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal JSON reader and string escaper, enough for safetensors headers and config files. Objects become
 * {@code LinkedHashMap<String,Object>}, arrays {@code List<Object>}, integers {@code Long}, other numbers
 * {@code Double}. Errors carry the character offset.
 */
public final class Json {
    private final String s;
    private int i;

    /** A syntax error at a character offset of the parsed text. */
    public static final class ParseException extends Exception {
        public final int offset;
        ParseException(String msg, int offset) { super(msg + " at character " + offset); this.offset = offset; }
    }

    private Json(String s) { this.s = s; }

    public static Object parse(String text) throws ParseException {
        Json p = new Json(text);
        p.ws();
        Object v = p.value();
        p.ws();
        if (p.i != text.length()) throw new ParseException("unexpected trailing content", p.i);
        return v;
    }

    private Object value() throws ParseException {
        if (i >= s.length()) throw new ParseException("unexpected end of input", i);
        char c = s.charAt(i);
        return switch (c) {
            case '{' -> object();
            case '[' -> array();
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) yield number();
                throw new ParseException("unexpected character '" + c + "'", i);
            }
        };
    }

    private Map<String, Object> object() throws ParseException {
        Map<String, Object> m = new LinkedHashMap<>();
        i++;
        ws();
        if (peek() == '}') { i++; return m; }
        while (true) {
            ws();
            if (peek() != '"') throw new ParseException("expected a string key", i);
            int at = i;
            String k = string();
            if (m.containsKey(k)) throw new ParseException("duplicate key \"" + k + "\"", at);
            ws();
            expect(':');
            ws();
            m.put(k, value());
            ws();
            char c = next();
            if (c == '}') return m;
            if (c != ',') throw new ParseException("expected ',' or '}'", i - 1);
        }
    }

    private List<Object> array() throws ParseException {
        List<Object> a = new ArrayList<>();
        i++;
        ws();
        if (peek() == ']') { i++; return a; }
        while (true) {
            ws();
            a.add(value());
            ws();
            char c = next();
            if (c == ']') return a;
            if (c != ',') throw new ParseException("expected ',' or ']'", i - 1);
        }
    }

    private String string() throws ParseException {
        expect('"');
        StringBuilder b = new StringBuilder();
        while (true) {
            if (i >= s.length()) throw new ParseException("unterminated string", i);
            char c = s.charAt(i++);
            if (c == '"') return b.toString();
            if (c < 0x20) throw new ParseException("control character in string", i - 1);
            if (c != '\\') { b.append(c); continue; }
            char e = next();
            switch (e) {
                case '"', '\\', '/' -> b.append(e);
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    if (i + 4 > s.length()) throw new ParseException("truncated \\u escape", i);
                    try { b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); }
                    catch (NumberFormatException ex) { throw new ParseException("bad \\u escape", i); }
                    i += 4;
                }
                default -> throw new ParseException("bad escape \\" + e, i - 1);
            }
        }
    }

    private Object number() throws ParseException {
        int start = i;
        if (peek() == '-') i++;
        while (i < s.length() && "0123456789".indexOf(s.charAt(i)) >= 0) i++;
        boolean integral = true;
        if (i < s.length() && s.charAt(i) == '.') { integral = false; i++; while (i < s.length() && Character.isDigit(s.charAt(i))) i++; }
        if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            integral = false; i++;
            if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) i++;
            while (i < s.length() && Character.isDigit(s.charAt(i))) i++;
        }
        String t = s.substring(start, i);
        try {
            return integral ? (Object) Long.parseLong(t) : (Object) Double.parseDouble(t);
        } catch (NumberFormatException ex) {
            throw new ParseException("bad number '" + t + "'", start);
        }
    }

    private Object literal(String word, Object v) throws ParseException {
        if (!s.startsWith(word, i)) throw new ParseException("unexpected token", i);
        i += word.length();
        return v;
    }

    private void ws() { while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++; }
    private char peek() { return i < s.length() ? s.charAt(i) : '\0'; }
    private char next() throws ParseException {
        if (i >= s.length()) throw new ParseException("unexpected end of input", i);
        return s.charAt(i++);
    }
    private void expect(char c) throws ParseException {
        if (peek() != c) throw new ParseException("expected '" + c + "'", i);
        i++;
    }

    /** A JSON string literal for {@code v}, quotes included. */
    public static String quote(String v) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : v.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> { if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c); }
            }
        }
        return b.append('"').toString();
    }
}
