package com.ewon.ewonitf;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The in-memory tags and system blocks behind the desktop stand-ins
 * {@link TagControl} and {@link SysControlBlock}. Package-private: an
 * application cannot call it, so code that compiles against this jar uses
 * only the Flexy's own API.
 *
 * <p>The table is read once, on first use, from the file named by the system
 * property {@value #FILE_PROPERTY} (a {@link Properties} file, ISO-8859-1):
 *
 * <pre>
 * # tag.NAME = TYPE:VALUE, TYPE one of float, integer, dword, boolean, string
 * tag.Temperature = float:21.5
 * tag.Batch = string:B-17
 * # BLOCK.ITEM = VALUE, BLOCK one of SYS, COM, INF, WIZ
 * INF.SERNUM = 1234-5678-90
 * </pre>
 *
 * Without the property the table is empty. A file that cannot be read or has
 * a bad line makes every later call fail with the reason, instead of
 * running with a half-loaded table.
 */
final class DesktopTable {
    static final String FILE_PROPERTY = "ewonitf.desktop.file";

    private static final String[] TYPES = { "float", "integer", "dword", "boolean", "string" };
    private static final String[] BLOCKS = { "SYS", "COM", "INF", "WIZ" };

    private static boolean loaded;
    private static String loadError;
    /** Tag name (exact) to Tag. */
    private static final Map TAGS = new HashMap();
    /** "BLOCK.item" with the item in lower case (items are case-insensitive on the Flexy) to value. */
    private static final Map ITEMS = new HashMap();

    private DesktopTable() {
    }

    /** A tag of the table; all access is synchronized on DesktopTable.class. */
    static final class Tag {
        final String name;
        final String type;
        /** The value of a numeric tag. */
        double number;
        /** The value of a string tag. */
        String text;

        Tag(String name, String type) {
            this.name = name;
            this.type = type;
        }

        boolean isString() {
            return "string".equals(type);
        }
    }

    /** The tag called {@code name}, or an EWException saying why there is none. */
    static synchronized Tag tag(String name) throws EWException {
        load();
        if (name == null) {
            throw new EWException("TagControl: the tag name is null");
        }
        Tag tag = (Tag) TAGS.get(name);
        if (tag == null) {
            throw new EWException("TagControl: no tag '" + name + "' in the desktop stand-in's table"
                    + describeSource() + "; add a line tag." + name + " = TYPE:VALUE");
        }
        return tag;
    }

    /** The value of {@code item} in {@code block} (e.g. INF, SERNUM), or an EWException. */
    static synchronized String item(String block, String item) throws EWException {
        load();
        if (item == null) {
            throw new EWException("SysControlBlock.getItem: the item name is null");
        }
        String value = (String) ITEMS.get(block + "." + item.toLowerCase());
        if (value == null) {
            throw new EWException("SysControlBlock.getItem: no item '" + item + "' in block " + block
                    + " of the desktop stand-in's table" + describeSource() + "; add a line " + block + "."
                    + item + " = VALUE");
        }
        return value;
    }

    /** Whether {@code block} can hold items in the file (SYS, COM, INF, WIZ). */
    static boolean isFileBlock(String block) {
        for (int i = 0; i < BLOCKS.length; i++) {
            if (BLOCKS[i].equals(block)) {
                return true;
            }
        }
        return false;
    }

    private static String describeSource() {
        String file = System.getProperty(FILE_PROPERTY);
        return file == null ? " (no file: the system property " + FILE_PROPERTY + " is not set)" : " (" + file + ")";
    }

    private static void load() throws EWException {
        if (!loaded) {
            loaded = true;
            try {
                read(System.getProperty(FILE_PROPERTY));
            } catch (EWException e) {
                loadError = e.getMessage();
                TAGS.clear();
                ITEMS.clear();
            }
        }
        if (loadError != null) {
            throw new EWException(loadError);
        }
    }

    private static void read(String file) throws EWException {
        if (file == null) {
            return;
        }
        Properties lines = new Properties();
        InputStream in = null;
        try {
            in = new FileInputStream(file);
            lines.load(in);
        } catch (IOException e) {
            throw new EWException("desktop stand-in: cannot read " + FILE_PROPERTY + "=" + file + ": " + e.getMessage());
        } finally {
            if (in != null) {
                try {
                    in.close();
                } catch (IOException e) {
                    // Already read; nothing is lost.
                }
            }
        }
        for (Enumeration keys = lines.propertyNames(); keys.hasMoreElements();) {
            String key = (String) keys.nextElement();
            String value = lines.getProperty(key).trim();
            int dot = key.indexOf('.');
            String prefix = dot < 0 ? key : key.substring(0, dot);
            String name = dot < 0 ? "" : key.substring(dot + 1);
            if (name.length() == 0) {
                throw badLine(file, key, "expected tag.NAME or BLOCK.ITEM");
            }
            if (prefix.equals("tag")) {
                TAGS.put(name, parseTag(file, key, name, value));
            } else if (isFileBlock(prefix)) {
                ITEMS.put(prefix + "." + name.toLowerCase(), value);
            } else {
                throw badLine(file, key, "'" + prefix + "' is neither tag nor one of SYS, COM, INF, WIZ");
            }
        }
    }

    private static Tag parseTag(String file, String key, String name, String value) throws EWException {
        int colon = value.indexOf(':');
        String type = colon < 0 ? "" : value.substring(0, colon).trim();
        boolean known = false;
        for (int i = 0; i < TYPES.length; i++) {
            known |= TYPES[i].equals(type);
        }
        if (!known) {
            throw badLine(file, key, "the value must be TYPE:VALUE with TYPE one of float, integer, dword, boolean,"
                    + " string");
        }
        Tag tag = new Tag(name, type);
        String initial = value.substring(colon + 1);
        try {
            assign(tag, initial);
        } catch (EWException e) {
            throw badLine(file, key, e.getMessage());
        }
        return tag;
    }

    /** Stores text in a string tag, or the number it spells in a numeric tag. */
    static void assign(Tag tag, String text) throws EWException {
        if (tag.isString()) {
            tag.text = text == null ? "" : text;
            return;
        }
        double number;
        try {
            number = Double.parseDouble(text == null ? "" : text.trim());
        } catch (NumberFormatException e) {
            throw new EWException("tag '" + tag.name + "' is a " + tag.type + " tag and '" + text + "' is not a number");
        }
        assign(tag, number);
    }

    /**
     * Stores a number. The Flexy converts a value "to the actual tag type"
     * (HMS's ETK documentation) without saying how it rounds; rather than guess,
     * the stand-in refuses what would need rounding.
     */
    static void assign(Tag tag, double number) throws EWException {
        if (tag.isString()) {
            throw new EWException("tag '" + tag.name + "' is a string tag; the desktop stand-in does not imitate how"
                    + " the Flexy turns the number " + number + " into text: use setTagValueAsString");
        }
        if (Double.isNaN(number) || Double.isInfinite(number)) {
            throw new EWException("tag '" + tag.name + "': " + number + " is not a value a tag can hold");
        }
        boolean whole = number == Math.floor(number);
        if (!tag.type.equals("float") && !whole) {
            throw new EWException("tag '" + tag.name + "' is a " + tag.type + " tag and " + number
                    + " is not a whole number; the desktop stand-in does not imitate the Flexy's rounding");
        }
        if (tag.type.equals("boolean") && number != 0 && number != 1) {
            throw new EWException("tag '" + tag.name + "' is a boolean tag: 0 or 1, not " + number);
        }
        if (tag.type.equals("dword") && number < 0) {
            throw new EWException("tag '" + tag.name + "' is a dword tag (unsigned), not " + number);
        }
        tag.number = number;
    }

    /** The number held by a numeric tag, or the number a string tag spells. */
    static double number(Tag tag) {
        if (!tag.isString()) {
            return tag.number;
        }
        try {
            return Double.parseDouble(tag.text.trim());
        } catch (NumberFormatException e) {
            // The getters have no checked exception on the Flexy either; a
            // desktop stand-in must not invent a number.
            throw new IllegalStateException("tag '" + tag.name + "' is a string tag holding '" + tag.text
                    + "', not a number");
        }
    }

    /** The number as a long when it is whole and fits, else IllegalStateException. */
    static long whole(Tag tag, long min, long max) {
        double number = number(tag);
        if (number != Math.floor(number) || number < min || number > max) {
            throw new IllegalStateException("tag '" + tag.name + "' holds " + number + ", which the desktop stand-in"
                    + " does not convert to a whole number between " + min + " and " + max
                    + " (the Flexy's rounding is not imitated)");
        }
        return (long) number;
    }

    /** The text of a string tag, or a numeric tag's value written as Java writes it (3 for whole numbers). */
    static String text(Tag tag) {
        if (tag.isString()) {
            return tag.text;
        }
        if (!tag.type.equals("float") || (tag.number == Math.floor(tag.number) && Math.abs(tag.number) < 1e15)) {
            return Long.toString((long) tag.number);
        }
        return Double.toString(tag.number);
    }

    private static EWException badLine(String file, String key, String why) {
        return new EWException("desktop stand-in: " + file + ": line '" + key + "': " + why);
    }
}
