/*
 * metrics.c - see metrics.h.
 */
#include "core/metrics.h"

#include <stdlib.h>
#include <string.h>

int metrics_start(const config_t *cfg, const char *component, const char *hostname, char *err,
                  size_t errlen)
{
    (void)cfg;
    (void)component;
    (void)hostname;
    (void)err;
    (void)errlen;
    return 0;
}

void metrics_stop(void) {}

void metric_count(metric_id_t m, double n, const char *l1, const char *l2, const char *l3)
{
    (void)m, (void)n, (void)l1, (void)l2, (void)l3;
}

void metric_gauge(metric_id_t m, double v, const char *l1, const char *l2, const char *l3)
{
    (void)m, (void)v, (void)l1, (void)l2, (void)l3;
}

void metric_observe(metric_id_t m, double v, const char *l1, const char *l2, const char *l3)
{
    (void)m, (void)v, (void)l1, (void)l2, (void)l3;
}

int metrics_render_prometheus(char **out, size_t *outlen)
{
    *out = strdup("");
    *outlen = 0;
    return *out ? 0 : -1;
}
