/*
 * CaffeineBench -- the Java peer of `macho bench`: Caffeine (Debian libcaffeine-java).
 *
 * Speaks the line protocol of tools/macho/bench_peers.c: load the key file,
 * fill order and per-thread operation streams the driver wrote, run one whole
 * untimed round so that the JIT has compiled the loop (the driver's round 0 is
 * a second warm-up), print a ready line, then answer each "run THREADS PIN"
 * with one JSON line of figures. Every round builds a fresh cache, fills it,
 * runs the untimed warm-up slice, times the timed slice on THREADS threads,
 * then drops the cache and runs System.gc() before answering, so that no
 * collection of this round's garbage runs during another system's round.
 *
 * Keys are Strings (ISO-8859-1, one char per byte) made once from the key
 * file; lookups use a second, equal String per key (a server would decode a
 * fresh one per request), so equals() compares characters, not references;
 * String caches its hash after the first call, as it would in an application
 * that reuses keys. A put stores a fresh copy of the value. A get that misses
 * is followed by a put. The cache is Caffeine's idiomatic bounded cache:
 * maximumSize(capacity), expireAfterWrite(ttl) when a TTL is given, the
 * default executor (maintenance on ForkJoinPool.commonPool()); with
 * MACHO_BENCH_CAFFEINE_CALLER_RUNS=1 in the environment, executor(Runnable::run)
 * instead (maintenance on the calling thread: no hand-off to another core).
 *
 * JVM: started by the driver with -Xms = -Xmx sized to the data (no heap
 * resizing inside a round) and G1, the JDK's default collector. Threads are
 * not pinned (Java has no affinity API); "PIN" is accepted and ignored.
 */
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

public final class CaffeineBench {
  static final int PUT = 0x80000000;
  static String[] insert, lookup;
  static int[] fill, ops;
  static byte[] value;
  static int nkeys, klen, vlen, nfill, capacity, nwarm, ntimed, maxThreads;
  static double ttlS;
  static volatile int sink;
  static final com.sun.management.OperatingSystemMXBean osmx =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  static int[] u32s(byte[] b) {
    int[] out = new int[b.length / 4];
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(out);
    return out;
  }

  static Cache<String, byte[]> open(int n) {
    Caffeine<Object, Object> b = Caffeine.newBuilder().maximumSize(n);
    if (System.getenv("MACHO_BENCH_CAFFEINE_CALLER_RUNS") != null) b = b.executor(Runnable::run);
    if (ttlS > 0) b = b.expireAfterWrite((long) (ttlS * 1000), TimeUnit.MILLISECONDS);
    return b.build();
  }

  static String version() {
    Package p = Caffeine.class.getPackage();
    String v = p != null ? p.getImplementationVersion() : null;
    if (v == null) {
      try { // Debian's jar: /usr/share/java/caffeine-VERSION.jar is what caffeine.jar links to
        v = Paths.get("/usr/share/java/caffeine.jar").toRealPath().getFileName().toString()
                .replace("caffeine-", "").replace(".jar", "");
      } catch (Exception e) {
        v = "unknown";
      }
    }
    return "caffeine " + v + ", " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version");
  }

  static long rss() {
    try {
      String[] f = new String(Files.readAllBytes(Paths.get("/proc/self/statm"))).trim().split(" ");
      return Long.parseLong(f[1]) * 4096L;
    } catch (Exception e) {
      return 0;
    }
  }

  static long heapAfterGc() {
    for (int i = 0; i < 3; i++) System.gc();
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** One slice of requests; returns {gets, hits}. */
  static long[] slice(Cache<String, byte[]> c, int from, int to) {
    long gets = 0, hits = 0;
    int s = 0;
    for (int i = from; i < to; i++) {
      int op = ops[i];
      int k = op & ~PUT;
      if ((op & PUT) != 0) {
        c.put(insert[k], Arrays.copyOf(value, vlen));
        continue;
      }
      gets++;
      byte[] v = c.getIfPresent(lookup[k]);
      if (v != null) {
        hits++;
        s ^= v[0];
      } else {
        c.put(insert[k], Arrays.copyOf(value, vlen));
      }
    }
    sink ^= s;
    return new long[] {gets, hits};
  }

  static String round(int threads) throws Exception {
    Cache<String, byte[]> c = open(capacity);
    for (int i = 0; i < nfill; i++) c.put(insert[fill[i]], Arrays.copyOf(value, vlen));
    c.cleanUp();
    int per = nwarm + ntimed;
    long[] t0 = new long[threads], t1 = new long[threads], cpu = new long[threads];
    long[][] res = new long[threads][];
    CyclicBarrier go = new CyclicBarrier(threads + 1); // + this thread, which reads the process CPU time
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    Thread[] ts = new Thread[threads];
    Throwable[] err = new Throwable[1];
    for (int t = 0; t < threads; t++) {
      final int id = t;
      ts[t] = new Thread(() -> {
        try {
          int base = id * per;
          slice(c, base, base + nwarm);
          go.await();
          t0[id] = System.nanoTime();
          long c0 = mx.getCurrentThreadCpuTime();
          res[id] = slice(c, base + nwarm, base + per);
          cpu[id] = mx.getCurrentThreadCpuTime() - c0;
          t1[id] = System.nanoTime();
        } catch (Throwable e) {
          err[0] = e;
        }
      });
      ts[t].start();
    }
    go.await();
    long p0 = osmx.getProcessCpuTime(); // every thread of the JVM: maintenance, JIT, GC included
    for (Thread t : ts) t.join();
    long pcpu = osmx.getProcessCpuTime() - p0;
    if (err[0] != null) return "{\"error\":\"" + err[0].toString().replace("\"", "'") + "\"}";
    long a = Long.MAX_VALUE, b = Long.MIN_VALUE, cpus = 0, gets = 0, hits = 0;
    for (int t = 0; t < threads; t++) {
      a = Math.min(a, t0[t]);
      b = Math.max(b, t1[t]);
      cpus += cpu[t];
      gets += res[t][0];
      hits += res[t][1];
    }
    c.invalidateAll();
    System.gc();
    return "{\"wall_ns\":" + (b - a) + ",\"cpu_ns\":" + pcpu + ",\"thread_cpu_ns\":" + cpus + ",\"ops\":" + ((long) threads * ntimed)
        + ",\"gets\":" + gets + ",\"hits\":" + hits + "}";
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i < argv.length; i++) {
      if (argv[i].equals("--memory")) a.put("memory", "1");
      else if (argv[i].startsWith("--") && i + 1 < argv.length) a.put(argv[i].substring(2), argv[++i]);
    }
    nkeys = Integer.parseInt(a.get("nkeys"));
    klen = Integer.parseInt(a.get("klen"));
    vlen = Integer.parseInt(a.get("vlen"));
    ttlS = Double.parseDouble(a.getOrDefault("ttl", "0"));
    byte[] kb = Files.readAllBytes(Paths.get(a.get("keys")));
    insert = new String[nkeys];
    lookup = new String[nkeys];
    for (int i = 0; i < nkeys; i++) {
      insert[i] = new String(kb, i * klen, klen, StandardCharsets.ISO_8859_1);
      lookup[i] = new String(kb, i * klen, klen, StandardCharsets.ISO_8859_1);
    }
    kb = null;
    value = new byte[vlen];
    for (int i = 0; i < vlen; i++) value[i] = (byte) ('a' + i % 26);
    String notes = "maximumSize(capacity)" + (ttlS > 0 ? ", expireAfterWrite(ttl)" : "")
        + (System.getenv("MACHO_BENCH_CAFFEINE_CALLER_RUNS") != null ? ", executor(Runnable::run)" : ", default executor")
        + "; G1, -Xmx " + (Runtime.getRuntime().maxMemory() >> 20) + " MB";
    if (a.containsKey("memory")) {
      long h0 = heapAfterGc(), r0 = rss();
      Cache<String, byte[]> c = open(nkeys);
      for (int i = 0; i < nkeys; i++) c.put(insert[i], Arrays.copyOf(value, vlen));
      c.cleanUp();
      long h1 = heapAfterGc(), r1 = rss();
      System.out.println("{\"entries\":" + c.estimatedSize() + ",\"rss_before\":" + r0 + ",\"rss_after\":" + r1
          + ",\"own_bytes\":" + (h1 - h0) + ",\"own_what\":\"Java heap in use after GC\",\"version\":\""
          + version() + "\",\"notes\":\"" + notes + "; lookup copies of the keys are in the baseline\"}");
      return;
    }
    fill = u32s(Files.readAllBytes(Paths.get(a.get("fill"))));
    ops = u32s(Files.readAllBytes(Paths.get(a.get("ops"))));
    nfill = Integer.parseInt(a.get("nfill"));
    capacity = Integer.parseInt(a.get("capacity"));
    nwarm = Integer.parseInt(a.get("warm"));
    ntimed = Integer.parseInt(a.get("timed"));
    maxThreads = Integer.parseInt(a.get("threads"));
    round(1); // JIT warm-up: the whole loop, untimed
    System.out.println("{\"ready\":true,\"version\":\"" + version() + "\",\"notes\":\"" + notes + "\",\"ttl\":"
        + (ttlS > 0) + "}");
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    for (String line; (line = in.readLine()) != null;) {
      String[] f = line.trim().split(" ");
      if (f[0].equals("quit")) break;
      if (!f[0].equals("run") || f.length < 2) {
        System.out.println("{\"error\":\"unknown command\"}");
        continue;
      }
      int n = Integer.parseInt(f[1]);
      if (n < 1 || n > maxThreads) {
        System.out.println("{\"error\":\"bad thread count\"}");
        continue;
      }
      System.out.println(round(n));
    }
    System.exit(0); // the common pool's threads are daemons, but leave no doubt
  }
}
