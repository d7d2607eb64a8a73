package com.ewon.ewonitf;

/**
 * Desktop stand-in for the Flexy's {@code com.ewon.ewonitf.TagControl}: reads
 * and writes a named tag. On the gateway the tags are the Flexy's own; here
 * they live in an in-memory table that the application preloads from the
 * file named by {@code -Dewonitf.desktop.file=FILE} (format in
 * compat/README.md). Nothing here talks to a Flexy.
 *
 * <p>The signatures are those of HMS's ETK 1.4.4
 * ({@code com.hms_networks.americas.sc.mvnlibs:ewon-etk:1.4.4}), and match
 * how HMS's own code calls it (hms-networks/sc-ewon-flexy-extensions-lib:
 * {@code new TagControl(name)} throws {@code EWException}, the getters throw
 * nothing checked, the setters throw {@code EWException}). Only reading and
 * writing values is offered; alarms, historical logging and tag ids are not.
 *
 * <p>Where the Flexy's behaviour is not documented the stand-in refuses
 * instead of guessing: a non-whole number for an integer, dword or boolean
 * tag, a number for a string tag, or text that is not a number for a
 * numeric tag is an {@code EWException} from the setters and an
 * {@code IllegalStateException} from the getters. All numeric types hold a
 * {@code double}; the Flexy's own ranges and float precision are not imitated.
 */
public class TagControl {
    private final DesktopTable.Tag tag;

    /**
     * @param tagName the tag's name; the tag must exist (on the desktop: be
     *        preloaded from the file)
     * @throws EWException when there is no such tag, or the file could not be read
     */
    public TagControl(String tagName) throws EWException {
        tag = DesktopTable.tag(tagName);
    }

    /** @return the tag's name */
    public String getTagName() {
        return tag.name;
    }

    /** @return the tag's value as a double */
    public double getTagValueAsDouble() {
        synchronized (DesktopTable.class) {
            return DesktopTable.number(tag);
        }
    }

    /** @return the tag's value as a long (a whole number) */
    public long getTagValueAsLong() {
        synchronized (DesktopTable.class) {
            return DesktopTable.whole(tag, Long.MIN_VALUE, Long.MAX_VALUE);
        }
    }

    /** @return the tag's value as an int (a whole number) */
    public int getTagValueAsInt() {
        synchronized (DesktopTable.class) {
            return (int) DesktopTable.whole(tag, Integer.MIN_VALUE, Integer.MAX_VALUE);
        }
    }

    /** @return the tag's value as text */
    public String getTagValueAsString() {
        synchronized (DesktopTable.class) {
            return DesktopTable.text(tag);
        }
    }

    /**
     * @param value the new value
     * @throws EWException when the tag's type cannot hold it (see the class comment)
     */
    public void setTagValueAsDouble(double value) throws EWException {
        synchronized (DesktopTable.class) {
            DesktopTable.assign(tag, value);
        }
    }

    /**
     * @param value the new value
     * @throws EWException when the tag's type cannot hold it
     */
    public void setTagValueAsLong(long value) throws EWException {
        synchronized (DesktopTable.class) {
            DesktopTable.assign(tag, (double) value);
        }
    }

    /**
     * @param value the new value
     * @throws EWException when the tag's type cannot hold it
     */
    public void setTagValueAsInt(int value) throws EWException {
        synchronized (DesktopTable.class) {
            DesktopTable.assign(tag, (double) value);
        }
    }

    /**
     * @param value the new value: text for a string tag, a number written as
     *        text for a numeric tag
     * @throws EWException when the tag is numeric and the text is not a number
     */
    public void setTagValueAsString(String value) throws EWException {
        synchronized (DesktopTable.class) {
            DesktopTable.assign(tag, value);
        }
    }
}
