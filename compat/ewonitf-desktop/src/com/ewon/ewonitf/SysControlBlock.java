package com.ewon.ewonitf;

/**
 * Desktop stand-in for the Flexy's {@code com.ewon.ewonitf.SysControlBlock},
 * for reading system items such as the serial number:
 * {@code new SysControlBlock(SysControlBlock.INF).getItem("SERNUM")}. The
 * values come from the file named by {@code -Dewonitf.desktop.file=FILE}
 * (lines {@code INF.SERNUM = 1234-5678-90}; format in compat/README.md);
 * nothing here reads a Flexy.
 *
 * <p>The constants, their values and the signatures are those of HMS's ETK
 * 1.4.4 ({@code com.hms_networks.americas.sc.mvnlibs:ewon-etk:1.4.4}), as HMS's
 * own code calls them (hms-networks/sc-ewon-flexy-extensions-lib). Item names
 * are not case sensitive, as HMS's ETK documentation says of
 * {@code getItem}. Only reading the SYS, COM, INF and WIZ blocks is offered:
 * editing and saving blocks, and the TAG and USER blocks, are not.
 */
public class SysControlBlock {
    /** Reference by index, for the (int, int, int) constructor of the Flexy (not offered here). */
    public static final byte BY_NDX = 0;
    /** Reference by id, for the (int, int, int) constructor of the Flexy (not offered here). */
    public static final byte BY_ID = 1;
    /** The system configuration (config.txt). */
    public static final byte SYS = 2;
    /** One tag's configuration (not offered by the desktop stand-in). */
    public static final byte TAG = 3;
    /** One user's configuration (not offered by the desktop stand-in). */
    public static final byte USER = 4;
    /** The communication configuration (comcfg.txt). */
    public static final byte COM = 5;
    /** The information block (serial number, firmware version, ...). */
    public static final byte INF = 6;
    /** The wizard block. */
    public static final byte WIZ = 7;

    private final String block;

    /**
     * @param blockType SYS, COM, INF or WIZ
     * @throws EWException for TAG, USER or an unknown block type
     */
    public SysControlBlock(int blockType) throws EWException {
        block = name(blockType);
        if (!DesktopTable.isFileBlock(block)) {
            throw new EWException("SysControlBlock: block " + block + " is not offered by the desktop stand-in"
                    + " (only SYS, COM, INF and WIZ items can be read)");
        }
    }

    /**
     * @param itemName the item, for example {@code "SERNUM"}; not case sensitive
     * @return the item's value
     * @throws EWException when the item is not in the desktop table
     */
    public String getItem(String itemName) throws EWException {
        return DesktopTable.item(block, itemName);
    }

    private static String name(int blockType) throws EWException {
        switch (blockType) {
            case SYS:
                return "SYS";
            case TAG:
                return "TAG";
            case USER:
                return "USER";
            case COM:
                return "COM";
            case INF:
                return "INF";
            case WIZ:
                return "WIZ";
            default:
                throw new EWException("SysControlBlock: unknown block type " + blockType);
        }
    }
}
