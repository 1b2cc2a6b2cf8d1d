package io.modelpress.devstack;

/** A child for {@link ChildJvmTest}: prints its argument, then sleeps until it is stopped. */
public final class Sleeper {

    private Sleeper() {}

    public static void main(String[] args) throws InterruptedException {
        System.out.println(args.length > 0 ? args[0] : "sleeping");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
