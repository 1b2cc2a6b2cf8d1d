package io.modelpress.devstack;

/**
 * A JVM that holds a test stack, for tests of what happens to the stack when its JVM ends. Prints the pids of its
 * children, then {@code READY}; mode {@code own} then waits to be killed, mode {@code shared} exits normally.
 */
public final class StackHolder {

    private StackHolder() {}

    public static void main(String[] args) throws InterruptedException {
        switch (args[0]) {
            case "own" -> DevStack.startForTests();
            case "shared" -> DevStack.shared();
            default -> throw new IllegalArgumentException("mode must be own or shared: " + args[0]);
        }
        ProcessHandle.current().children().forEach(child -> System.out.println("PID " + child.pid()));
        System.out.println("READY");
        System.out.flush();
        if (args[0].equals("own")) {
            Thread.sleep(Long.MAX_VALUE);
        }
    }
}
