package org.etkmqtt;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;

/**
 * The machine and ABI of an ELF file, read from its header: enough to pick
 * the library folder for this JVM and to say why a library does not fit it.
 *
 * <p>{@code os.arch} is {@code arm} for both ARM float ABIs, and a hard-float
 * library cannot be loaded into a soft-float process (or the reverse): glibc
 * then reports "cannot open shared object file: No such file or directory"
 * although the file is there. The JVM's own ABI is read from the header of
 * {@code /proc/self/exe} (the {@code java} launcher): its {@code e_flags}
 * carry the float ABI, and when an old toolchain left them empty, the name
 * of its program interpreter does ({@code ld-linux-armhf.so.3} is only used
 * by hard-float systems).
 */
final class ElfAbi {
    static final int EM_386 = 3;
    static final int EM_ARM = 40;
    static final int EM_X86_64 = 62;
    static final int EM_AARCH64 = 183;

    private static final int EF_ARM_ABI_FLOAT_SOFT = 0x200;
    private static final int EF_ARM_ABI_FLOAT_HARD = 0x400;
    private static final int PT_INTERP = 3;

    /** ELFCLASS32 (1) or ELFCLASS64 (2). */
    final int elfClass;
    final int machine;
    /** For ARM: "armhf", "armel", or null when the file does not say. */
    final String armFloatAbi;

    private ElfAbi(int elfClass, int machine, String armFloatAbi) {
        this.elfClass = elfClass;
        this.machine = machine;
        this.armFloatAbi = armFloatAbi;
    }

    /** The ABI of the running JVM, or null if {@code /proc/self/exe} cannot be read. */
    static ElfAbi ofThisJvm() {
        String fromProperty = armAbiFromProperty();
        ElfAbi exe = read(new File("/proc/self/exe"));
        if (exe != null && exe.machine == EM_ARM && exe.armFloatAbi == null && fromProperty != null) {
            return new ElfAbi(exe.elfClass, exe.machine, fromProperty);
        }
        return exe;
    }

    /**
     * {@code sun.arch.abi}, which some ARM JVMs set (for example
     * {@code gnueabihf}): "armhf", "armel" or null.
     */
    private static String armAbiFromProperty() {
        String abi;
        try {
            abi = System.getProperty("sun.arch.abi");
        } catch (SecurityException e) {
            return null;
        }
        if (abi == null) {
            return null;
        }
        abi = abi.toLowerCase();
        if (abi.indexOf("hf") >= 0 || abi.indexOf("hard") >= 0) {
            return "armhf";
        }
        if (abi.indexOf("eabi") >= 0 || abi.indexOf("soft") >= 0) {
            return "armel";
        }
        return null;
    }

    /** The ABI in {@code file}'s ELF header, or null if it is not a readable ELF file. */
    static ElfAbi read(File file) {
        RandomAccessFile in = null;
        try {
            in = new RandomAccessFile(file, "r");
            byte[] header = new byte[64];
            if (!readFully(in, header, 0, 52)) {
                return null;
            }
            if (header[0] != 0x7f || header[1] != 'E' || header[2] != 'L' || header[3] != 'F') {
                return null;
            }
            int elfClass = header[4];
            // Little-endian only: every target etkmqtt is built for.
            if (header[5] != 1 || (elfClass != 1 && elfClass != 2)) {
                return new ElfAbi(elfClass, -1, null);
            }
            int machine = u16(header, 18);
            if (machine != EM_ARM || elfClass != 1) {
                return new ElfAbi(elfClass, machine, null);
            }
            int flags = u32(header, 36);
            String floatAbi = null;
            if ((flags & EF_ARM_ABI_FLOAT_HARD) != 0) {
                floatAbi = "armhf";
            } else if ((flags & EF_ARM_ABI_FLOAT_SOFT) != 0) {
                floatAbi = "armel";
            } else {
                String interpreter = interpreter(in, header);
                if (interpreter != null) {
                    floatAbi = interpreter.indexOf("armhf") >= 0 ? "armhf" : "armel";
                }
            }
            return new ElfAbi(elfClass, machine, floatAbi);
        } catch (IOException e) {
            return null;
        } catch (SecurityException e) {
            return null;
        } finally {
            if (in != null) {
                try {
                    in.close();
                } catch (IOException ignored) {
                    // Read-only: nothing is lost.
                }
            }
        }
    }

    /** The PT_INTERP path of a 32-bit ELF file, or null if it has none. */
    private static String interpreter(RandomAccessFile in, byte[] header) throws IOException {
        long phoff = u32(header, 28) & 0xffffffffL;
        int phentsize = u16(header, 42);
        int phnum = u16(header, 44);
        if (phentsize < 32 || phnum > 64) {
            return null;
        }
        byte[] entry = new byte[32];
        for (int i = 0; i < phnum; i++) {
            in.seek(phoff + (long) i * phentsize);
            if (!readFully(in, entry, 0, 32)) {
                return null;
            }
            if (u32(entry, 0) == PT_INTERP) {
                int size = u32(entry, 16);
                if (size <= 0 || size > 256) {
                    return null;
                }
                byte[] path = new byte[size];
                in.seek(u32(entry, 4) & 0xffffffffL);
                if (!readFully(in, path, 0, size)) {
                    return null;
                }
                int length = 0;
                while (length < size && path[length] != 0) {
                    length++;
                }
                return new String(path, 0, length, "ISO-8859-1");
            }
        }
        return null;
    }

    /** The jar folder for this ABI under {@code native/}, for example {@code linux-armhf}; null if unknown. */
    String folder() {
        if (machine == EM_X86_64 && elfClass == 2) {
            return "linux-x86_64";
        }
        if (machine == EM_AARCH64 && elfClass == 2) {
            return "linux-aarch64";
        }
        if (machine == EM_ARM && elfClass == 1 && armFloatAbi != null) {
            return "linux-" + armFloatAbi;
        }
        return null;
    }

    /** For messages: "ARM hard-float (armhf)", "x86-64", ... */
    String describe() {
        if (machine == EM_ARM) {
            if ("armhf".equals(armFloatAbi)) {
                return "ARM hard-float (armhf)";
            }
            if ("armel".equals(armFloatAbi)) {
                return "ARM soft-float (armel)";
            }
            return "ARM (float ABI not stated)";
        }
        String bits = elfClass == 2 ? "64-bit" : elfClass == 1 ? "32-bit" : "unknown class";
        if (machine == EM_X86_64) {
            return elfClass == 2 ? "x86-64" : "x86-64 (" + bits + ")";
        }
        if (machine == EM_AARCH64) {
            return "AArch64";
        }
        if (machine == EM_386) {
            return "x86 (" + bits + ")";
        }
        return "ELF machine " + machine + " (" + bits + ")";
    }

    /** True if a library of this ABI can be loaded by a process of {@code process}'s ABI. */
    boolean fits(ElfAbi process) {
        if (machine != process.machine || elfClass != process.elfClass) {
            return false;
        }
        return armFloatAbi == null || process.armFloatAbi == null || armFloatAbi.equals(process.armFloatAbi);
    }

    /**
     * Why {@code library} cannot be loaded into this JVM, for example
     * " (/usr/libetkmqtt_jni.so is an ARM hard-float (armhf) library, but this
     * JVM is ARM soft-float (armel))"; "" when the header does not explain it.
     */
    static String mismatch(File library, ElfAbi jvm) {
        if (library == null || jvm == null || !library.isFile()) {
            return "";
        }
        ElfAbi abi = read(library);
        if (abi == null) {
            return " (" + library.getPath() + " is not an ELF shared library)";
        }
        if (abi.fits(jvm)) {
            return "";
        }
        String folder = jvm.folder();
        return " (" + library.getPath() + " is an " + abi.describe() + " library, but this JVM is "
                + jvm.describe() + (folder == null ? "" : "; use the library from native/" + folder
                + "/ of etkmqtt-all-platforms.jar") + ")";
    }

    private static boolean readFully(RandomAccessFile in, byte[] buffer, int offset, int length)
            throws IOException {
        while (length > 0) {
            int n = in.read(buffer, offset, length);
            if (n <= 0) {
                return false;
            }
            offset += n;
            length -= n;
        }
        return true;
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
    }

    private static int u32(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
    }
}
