/*
 * core/grow — grow_array (see grow.h): doubling growth, overflow-checked, unchanged on failure.
 */
#include "core/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

int grow_array(void *array, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : GROW_FIRST;
    void *old, *q;
    if (need <= *cap)
        return 0;
    if (elem == 0 || need > SIZE_MAX / elem)
        return ERR_NOMEM;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : 2 * n;
    if (n > SIZE_MAX / elem)
        n = need; /* doubling would overflow: take exactly what is needed */
    memcpy(&old, array, sizeof old);
    q = realloc(old, n * elem);
    if (!q)
        return ERR_NOMEM;
    memcpy(array, &q, sizeof q);
    *cap = n;
    return 0;
}
