/**
 * Tags of a simulated process: a temperature that follows a setpoint, a
 * pressure that oscillates, a running flag and an operating mode.
 */
public final class SimulatedTags implements TagSource {
    private static final String[] NAMES = {"Temperature", "Pressure", "Running", "Setpoint", "Mode"};

    private double temperature = 20.0;
    private double setpoint = 21.5;
    private boolean running = true;
    private String mode = "auto";
    private int step;

    public String[] names() {
        return NAMES;
    }

    public synchronized Object[] read() {
        step++;
        if (running) {
            temperature += (setpoint - temperature) * 0.25;
        }
        double pressure = 1.2 + 0.1 * Math.sin(step / 3.0);
        return new Object[] {new Double(round(temperature)), new Double(round(pressure)),
            running ? Boolean.TRUE : Boolean.FALSE, new Double(setpoint), mode};
    }

    public synchronized boolean write(String name, Object value) {
        if ("Setpoint".equals(name) && value instanceof Double) {
            setpoint = ((Double) value).doubleValue();
            return true;
        }
        if ("Running".equals(name) && value instanceof Boolean) {
            running = ((Boolean) value).booleanValue();
            return true;
        }
        if ("Mode".equals(name) && value instanceof String) {
            mode = (String) value;
            return true;
        }
        return false;
    }

    private static double round(double value) {
        return Math.floor(value * 100.0 + 0.5) / 100.0;
    }
}
