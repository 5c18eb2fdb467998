// gobench -- the Go peers of `macho bench`: Ristretto and hashicorp golang-lru.
//
// Speaks the line protocol of tools/macho/bench_peers.c: load the key file,
// fill order and per-thread operation streams the driver wrote, print a ready
// line, then answer each "run THREADS PIN" with one JSON line of figures.
// Every round opens a fresh cache, fills it, runs the untimed warm-up slice,
// times the timed slice on THREADS goroutines (each locked to an OS thread),
// then drops the cache and collects garbage before answering, so that no
// collection runs during another system's round.
//
// Keys are Go strings made once from the key file; the lookups use a second,
// equal copy of every key (as a server would have a fresh buffer per
// request), so equality compares bytes, not pointers. A put stores a fresh
// copy of the value (a cache-aside put stores what the backing store gave).
// A get that misses is followed by a put; Ristretto may drop a put (its
// admission policy and its lossy set buffer decide), which is its design and
// shows in its hit ratio. During the fill, a put its buffer dropped is
// retried so that every system starts from the same contents.
//
// Built offline from Debian's packaged sources:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/dgraph-io/ristretto"
	lru "github.com/hashicorp/golang-lru"
)

type cache interface {
	Get(k string) ([]byte, bool)
	Set(k string, v []byte) bool
	Close()
}

type ristrettoCache struct {
	c   *ristretto.Cache
	ttl time.Duration
}

func (r *ristrettoCache) Get(k string) ([]byte, bool) {
	v, ok := r.c.Get(k)
	if !ok {
		return nil, false
	}
	return v.([]byte), true
}
func (r *ristrettoCache) Set(k string, v []byte) bool {
	if r.ttl > 0 {
		return r.c.SetWithTTL(k, v, 1, r.ttl)
	}
	return r.c.Set(k, v, 1)
}
func (r *ristrettoCache) Close() { r.c.Close() }

type lruCache struct{ c *lru.Cache }

func (l *lruCache) Get(k string) ([]byte, bool) {
	v, ok := l.c.Get(k)
	if !ok {
		return nil, false
	}
	return v.([]byte), true
}
func (l *lruCache) Set(k string, v []byte) bool { l.c.Add(k, v); return true }
func (l *lruCache) Close()                      {}

var (
	system   = flag.String("system", "ristretto", "ristretto or golang-lru")
	keysPath = flag.String("keys", "", "key file")
	fillPath = flag.String("fill", "", "fill order (u32 LE)")
	opsPath  = flag.String("ops", "", "operation streams (u32 LE, top bit = put)")
	nkeys    = flag.Int("nkeys", 0, "keys")
	klen     = flag.Int("klen", 8, "key bytes")
	vlen     = flag.Int("vlen", 8, "value bytes")
	nfill    = flag.Int("nfill", 0, "keys put before warm-up")
	capacity = flag.Int("capacity", 0, "entries")
	nwarm    = flag.Int("warm", 0, "untimed requests per thread")
	ntimed   = flag.Int("timed", 0, "timed requests per thread")
	threads  = flag.Int("threads", 1, "streams in the ops file")
	ttlS     = flag.Float64("ttl", 0, "TTL in seconds, 0 = none")
	memory   = flag.Bool("memory", false, "fill nkeys entries and report memory")
)

// Set by bench/peers/build.sh from the Debian packages' versions (-ldflags -X).
var ristrettoVersion, lruVersion = "unknown", "unknown"

func version() string {
	if *system == "ristretto" {
		return "ristretto " + ristrettoVersion + " (Debian), " + runtime.Version()
	}
	return "golang-lru " + lruVersion + " (Debian), " + runtime.Version()
}

func notes() string {
	if *system == "ristretto" {
		return "NumCounters 10x capacity, MaxCost capacity (cost 1 per entry), BufferItems 64, metrics off; GOGC default"
	}
	return "lru.New(capacity): one mutex; no TTL support; GOGC default"
}

func open(n int) cache {
	if *system == "ristretto" {
		c, err := ristretto.NewCache(&ristretto.Config{NumCounters: int64(10 * n), MaxCost: int64(n), BufferItems: 64})
		if err != nil {
			fail(err.Error())
		}
		return &ristrettoCache{c, time.Duration(*ttlS * float64(time.Second))}
	}
	c, err := lru.New(n)
	if err != nil {
		fail(err.Error())
	}
	return &lruCache{c}
}

func fail(msg string) {
	fmt.Printf("{\"error\":%q}\n", msg)
	os.Exit(1)
}

func readFile(p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		fail(err.Error())
	}
	return b
}

func u32s(b []byte) []uint32 {
	out := make([]uint32, len(b)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseUint(f[1], 10, 64)
	return n * uint64(os.Getpagesize())
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func threadCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

var sink byte

type result struct {
	t0, t1     time.Time
	cpu        int64
	gets, hits uint64
}

func slice(c cache, insert, lookup []string, value []byte, ops []uint32, r *result) {
	var gets, hits uint64
	var s byte
	for _, op := range ops {
		k := op &^ 0x80000000
		if op&0x80000000 != 0 {
			v := make([]byte, len(value))
			copy(v, value)
			c.Set(insert[k], v)
			continue
		}
		gets++
		if v, ok := c.Get(lookup[k]); ok {
			hits++
			s ^= v[0]
		} else {
			nv := make([]byte, len(value))
			copy(nv, value)
			c.Set(insert[k], nv)
		}
	}
	sink ^= s
	r.gets, r.hits = gets, hits
}

func main() {
	flag.Parse()
	kb := readFile(*keysPath)
	if len(kb) < *nkeys**klen {
		fail("key file too short")
	}
	insert := make([]string, *nkeys)
	lookup := make([]string, *nkeys)
	for i := range insert {
		insert[i] = string(kb[i**klen : (i+1)**klen])
		lookup[i] = string(kb[i**klen : (i+1)**klen])
	}
	kb = nil
	value := make([]byte, *vlen)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	if *memory {
		h0, r0 := heap(), rss()
		c := open(*nkeys)
		held := 0
		for i := 0; i < *nkeys; i++ {
			v := make([]byte, *vlen)
			copy(v, value)
			for !c.Set(insert[i], v) {
				runtime.Gosched()
			}
		}
		time.Sleep(200 * time.Millisecond) // Ristretto applies sets asynchronously
		for i := 0; i < *nkeys; i++ {
			if _, ok := c.Get(lookup[i]); ok {
				held++
			}
		}
		h1, r1 := heap(), rss()
		fmt.Printf("{\"entries\":%d,\"rss_before\":%d,\"rss_after\":%d,\"own_bytes\":%d,\"own_what\":\"Go heap in use after GC\",\"version\":%q,\"notes\":%q}\n",
			held, r0, r1, int64(h1)-int64(h0), version(), notes()+"; lookup copies of the keys are in the baseline")
		runtime.KeepAlive(c)
		runtime.KeepAlive(lookup)
		return
	}
	fill := u32s(readFile(*fillPath))
	ops := u32s(readFile(*opsPath))
	per := *nwarm + *ntimed
	if len(fill) < *nfill || len(ops) < *threads*per {
		fail("fill or ops file too short")
	}
	round := func(nthreads int, pin bool) string {
		c := open(*capacity)
		for _, k := range fill[:*nfill] {
			v := make([]byte, *vlen)
			copy(v, value)
			for !c.Set(insert[k], v) {
				runtime.Gosched()
			}
		}
		time.Sleep(20 * time.Millisecond) // let Ristretto's set buffer drain (untimed)
		res := make([]result, nthreads)
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		ready.Add(nthreads)
		done.Add(nthreads)
		for t := 0; t < nthreads; t++ {
			go func(t int) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				if pin {
					pinTo(t % runtime.NumCPU())
				}
				stream := ops[t*per : (t+1)*per]
				var warm result
				slice(c, insert, lookup, value, stream[:*nwarm], &warm)
				ready.Done()
				<-start
				r := &res[t]
				r.t0 = time.Now()
				c0 := threadCPU()
				slice(c, insert, lookup, value, stream[*nwarm:], r)
				r.cpu = threadCPU() - c0
				r.t1 = time.Now()
				done.Done()
			}(t)
		}
		ready.Wait()
		p0 := processCPU() // every thread of the process: Ristretto's goroutines and the GC included
		close(start)
		done.Wait()
		pcpu := processCPU() - p0
		t0, t1 := res[0].t0, res[0].t1
		var cpu int64
		var gets, hits uint64
		for _, r := range res {
			if r.t0.Before(t0) {
				t0 = r.t0
			}
			if r.t1.After(t1) {
				t1 = r.t1
			}
			cpu += r.cpu
			gets += r.gets
			hits += r.hits
		}
		c.Close()
		c = nil
		runtime.GC()
		debug.FreeOSMemory()
		return fmt.Sprintf("{\"wall_ns\":%d,\"cpu_ns\":%d,\"thread_cpu_ns\":%d,\"ops\":%d,\"gets\":%d,\"hits\":%d}",
			t1.Sub(t0).Nanoseconds(), pcpu, cpu, nthreads**ntimed, gets, hits)
	}
	round(1, false) // warm-up before the ready line
	ttl := "false"
	if *system == "ristretto" && *ttlS > 0 {
		ttl = "true"
	}
	fmt.Printf("{\"ready\":true,\"version\":%q,\"notes\":%q,\"ttl\":%s}\n", version(), notes(), ttl)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "quit" {
			return
		}
		if f[0] != "run" || len(f) < 2 {
			fmt.Println("{\"error\":\"unknown command\"}")
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 1 || n > *threads {
			fmt.Println("{\"error\":\"bad thread count\"}")
			continue
		}
		fmt.Println(round(n, len(f) > 2 && f[2] == "1"))
	}
}

// pinTo sets the calling OS thread's CPU affinity (sched_setaffinity on tid 0 = this thread).
func pinTo(cpu int) {
	var mask [16]uint64
	mask[cpu/64] |= 1 << (uint(cpu) % 64)
	syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, uintptr(len(mask)*8), uintptr(unsafe.Pointer(&mask)))
}
