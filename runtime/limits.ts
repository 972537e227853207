// Bounds shared by the dnnc command line and the generated trainers' own flags, so both refuse
// the same values (a trainer given --threads 999 started 256 threads and used 2 GB).

/** GEMM threads: --threads takes 1..MAX_THREADS. */
export const MAX_THREADS = 64;
