/* The weights' EMA: fer_ema_update over k steps against the closed form
   e_k = d^k e_0 + (1 - d) sum_j d^(k-j) w_j, and the warm-up's decay
   min(d, (1 + n) / (10 + n)). */
#include "check.h"

#include "fer/ema.h"

#include <math.h>
#include <string.h>

static void test_recursion(void)
{
    enum { N = 5, STEPS = 40 };
    const double d = 0.9;
    float ema[N], w[N];
    double e0[N];
    for (int i = 0; i < N; i++)
        e0[i] = ema[i] = (float)(0.25 * i - 0.5);
    double worst = 0;
    for (int k = 1; k <= STEPS; k++) {
        for (int i = 0; i < N; i++)
            w[i] = (float)sin(0.3 * k + i); /* the weights after step k */
        fer_ema_update(ema, w, N, d);
        for (int i = 0; i < N; i++) {
            double want = pow(d, k) * e0[i];
            for (int j = 1; j <= k; j++)
                want += (1 - d) * pow(d, k - j) * (double)(float)sin(0.3 * j + i);
            worst = fmax(worst, fabs(ema[i] - want));
        }
    }
    printf("ema: %d updates of %d weights at decay %.2f, max |ema - closed form| %.3g (tol 1e-5)\n", STEPS, N,
           d, worst);
    CHECK(worst < 1e-5);
}

static void test_decay(void)
{
    fer_train_cfg c;
    memset(&c, 0, sizeof c);
    c.ema = 0.999;
    double plain = fer_ema_decay(&c, 0);
    c.ema_warmup = 1;
    double d0 = fer_ema_decay(&c, 0), d10 = fer_ema_decay(&c, 10), late = fer_ema_decay(&c, 100000);
    printf("ema decay: no warm-up %.6g; warm-up at update 0 %.6g, 10 %.6g, 100000 %.6g\n", plain, d0, d10,
           late);
    CHECK(plain == 0.999);
    CHECK(d0 == 0.1 && d10 == 11.0 / 20.0 && late == 0.999);
}

int main(void)
{
    test_recursion();
    test_decay();
    return check_report("test_ema");
}
