// openblas_sgemm times single-threaded OpenBLAS cblas_sgemm on the shapes of
// BenchmarkSgemm in supernet/gemm, so run.sh can print the Go/OpenBLAS ratio.
// Output: one "name GFLOP/s" line per shape (median of reps), after a header
// naming the OpenBLAS kernel that ran.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Not in every cblas.h, but exported by OpenBLAS.
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern void openblas_set_num_threads(int);

struct shape {
	const char *name;
	int m, n, k;
};

static const struct shape shapes[] = {
	{"256", 256, 256, 256},
	{"1024", 1024, 1024, 1024},
	{"conv_24x12544x72", 24, 14 * 14 * 64, 72},
	{"conv_144x3136x24", 144, 7 * 7 * 64, 24},
	{"conv_40x3136x240", 40, 7 * 7 * 64, 240},
	{"conv_960x64x160", 960, 64, 160},
};

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	if (reps < 1 || reps > 101) reps = 5;
	openblas_set_num_threads(1);
	const char *ct = getenv("OPENBLAS_CORETYPE");
	printf("# openblas corename=%s OPENBLAS_CORETYPE=%s\n", openblas_get_corename(), ct ? ct : "(unset)");
	printf("# openblas config=%s\n", openblas_get_config());
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		const struct shape *sh = &shapes[s];
		int m = sh->m, n = sh->n, k = sh->k;
		float *a = malloc(sizeof(float) * m * k);
		float *b = malloc(sizeof(float) * k * n);
		float *c = malloc(sizeof(float) * m * n);
		srand(1);
		for (int i = 0; i < m * k; i++) a[i] = (float)rand() / RAND_MAX * 2 - 1;
		for (int i = 0; i < k * n; i++) b[i] = (float)rand() / RAND_MAX * 2 - 1;
		memset(c, 0, sizeof(float) * m * n);
		double flops = 2.0 * m * n * k;
		// Like go test -bench: repeat each timed run for at least ~0.5s.
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
		long iters = 1;
		for (;;) {
			double t0 = now();
			for (long i = 0; i < iters; i++)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
			double dt = now() - t0;
			if (dt > 0.5) break;
			iters *= 2;
		}
		double g[101];
		for (int r = 0; r < reps; r++) {
			double t0 = now();
			for (long i = 0; i < iters; i++)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
			g[r] = flops * iters / (now() - t0) / 1e9;
		}
		qsort(g, reps, sizeof g[0], cmp);
		printf("%s %.2f\n", sh->name, g[reps / 2]);
		fflush(stdout);
		free(a);
		free(b);
		free(c);
	}
	return 0;
}
