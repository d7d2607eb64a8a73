package org.etkmqtt;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import org.junit.BeforeClass;
import org.junit.Test;

import com.ewon.ewonitf.EWException;
import com.ewon.ewonitf.SysControlBlock;
import com.ewon.ewonitf.TagControl;

/**
 * The compat jar's desktop stand-ins for TagControl and SysControlBlock: the
 * table preloaded from -Dewonitf.desktop.file, values written and read back,
 * item names not case sensitive (as HMS documents getItem), and a clear
 * refusal, never a guessed value, where the Flexy's conversion is not known.
 * (Gradle runs each test class in its own JVM, and the table is read once
 * per JVM: the property is set before the first use. Each test uses tags of
 * its own, so the order of the tests does not matter.)
 */
public class DesktopStandInTest {
    private static File table;

    @BeforeClass
    public static void preloadTheTable() throws IOException {
        table = File.createTempFile("etkmqtt-desktop-", ".properties");
        table.deleteOnExit();
        Files.write(table.toPath(), String.join("\n",
                "tag.Temperature = float:21.5",
                "tag.Count = integer:7",
                "tag.Total = dword:4000000000",
                "tag.Running = boolean:1",
                "tag.Batch = string:B-17",
                "tag.Code = string:42",
                "tag.Level = float:1.5",
                "tag.Steps = integer:3",
                "tag.Pump = boolean:1",
                "tag.Label = string:L-1",
                "tag.Limit = integer:5",
                "tag.Flag = boolean:0",
                "tag.Counter = dword:10",
                "tag.Note = string:B-19",
                "tag.Ratio = float:21.5",
                "INF.SERNUM = 1234-5678-90",
                "SYS.Identification = desk-flexy",
                "").getBytes(StandardCharsets.ISO_8859_1));
        System.setProperty("ewonitf.desktop.file", table.getPath());
    }

    @Test
    public void preloaded_tags_read_in_every_form() throws EWException {
        assertEquals(21.5, new TagControl("Temperature").getTagValueAsDouble(), 0.0);
        assertEquals("21.5", new TagControl("Temperature").getTagValueAsString());
        assertEquals(7, new TagControl("Count").getTagValueAsInt());
        assertEquals("7", new TagControl("Count").getTagValueAsString());
        assertEquals(4_000_000_000L, new TagControl("Total").getTagValueAsLong());
        assertEquals(1, new TagControl("Running").getTagValueAsLong());
        assertEquals("B-17", new TagControl("Batch").getTagValueAsString());
        assertEquals(42, new TagControl("Code").getTagValueAsInt());
        assertEquals("Temperature", new TagControl("Temperature").getTagName());
    }

    @Test
    public void written_values_are_read_back_by_every_tag_control_of_that_name() throws EWException {
        new TagControl("Steps").setTagValueAsInt(9);
        assertEquals(9, new TagControl("Steps").getTagValueAsInt());
        new TagControl("Steps").setTagValueAsString(" 11 ");
        assertEquals(11L, new TagControl("Steps").getTagValueAsLong());
        new TagControl("Level").setTagValueAsDouble(30.25);
        assertEquals(30.25, new TagControl("Level").getTagValueAsDouble(), 0.0);
        new TagControl("Pump").setTagValueAsLong(0);
        assertEquals(0, new TagControl("Pump").getTagValueAsInt());
        new TagControl("Label").setTagValueAsString("L-2");
        assertEquals("L-2", new TagControl("Label").getTagValueAsString());
    }

    @Test
    public void an_unknown_tag_is_an_ewexception_naming_it_and_the_file() {
        try {
            new TagControl("NoSuchTag");
            fail("no such tag");
        } catch (EWException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("'NoSuchTag'"));
            assertTrue(e.getMessage(), e.getMessage().contains(table.getPath()));
            assertTrue(e.getMessage(), e.getMessage().contains("tag.NoSuchTag = TYPE:VALUE"));
        }
    }

    @Test
    public void conversions_the_flexy_does_not_document_are_refused_not_guessed() throws EWException {
        assertRefused(() -> new TagControl("Limit").setTagValueAsDouble(2.5), "not a whole number");
        assertRefused(() -> new TagControl("Flag").setTagValueAsInt(2), "0 or 1");
        assertRefused(() -> new TagControl("Counter").setTagValueAsLong(-1), "unsigned");
        assertRefused(() -> new TagControl("Note").setTagValueAsDouble(1.5), "use setTagValueAsString");
        assertRefused(() -> new TagControl("Limit").setTagValueAsString("twelve"), "'twelve' is not a number");
        assertEquals("refused writes leave the values", 5, new TagControl("Limit").getTagValueAsInt());
        assertEquals(0, new TagControl("Flag").getTagValueAsInt());
        assertEquals(10, new TagControl("Counter").getTagValueAsLong());
        assertEquals("B-19", new TagControl("Note").getTagValueAsString());
        try {
            new TagControl("Note").getTagValueAsDouble();
            fail("a string tag that is not a number has no double value");
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("'B-19'"));
        }
        try {
            new TagControl("Ratio").getTagValueAsLong();
            fail("21.5 is not rounded to a long");
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("21.5"));
        }
    }

    @Test
    public void system_items_are_read_by_any_case_of_their_name() throws EWException {
        SysControlBlock inf = new SysControlBlock(SysControlBlock.INF);
        assertEquals("1234-5678-90", inf.getItem("SERNUM"));
        assertEquals("1234-5678-90", inf.getItem("SerNum"));
        assertEquals("desk-flexy", new SysControlBlock(SysControlBlock.SYS).getItem("identification"));
        try {
            inf.getItem("FwrVersion");
            fail("not in the table");
        } catch (EWException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("'FwrVersion'") && e.getMessage().contains("INF"));
        }
        try {
            new SysControlBlock(SysControlBlock.TAG);
            fail("the TAG block is not offered");
        } catch (EWException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("TAG"));
        }
    }

    /** The values are those of HMS's ETK 1.4.4 (javap), so compiled-in constants mean the same on the gateway. */
    @Test
    public void block_constants_have_the_etk_values() {
        assertEquals(2, SysControlBlock.SYS);
        assertEquals(3, SysControlBlock.TAG);
        assertEquals(4, SysControlBlock.USER);
        assertEquals(5, SysControlBlock.COM);
        assertEquals(6, SysControlBlock.INF);
        assertEquals(7, SysControlBlock.WIZ);
    }

    private interface Write {
        void run() throws EWException;
    }

    private static void assertRefused(Write write, String reason) {
        try {
            write.run();
            fail("expected an EWException with: " + reason);
        } catch (EWException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(reason));
        }
    }
}
