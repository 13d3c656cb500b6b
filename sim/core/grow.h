/*
 * core/grow — the one way setm grows a dynamic array: capacity doubles (from 16) until it holds
 * what is needed, the size computation is checked for overflow, and nothing changes on failure.
 *
 * Invariant: after grow_array returns 0, the array holds at least `need` elements, its first
 * *cap elements before the call are unchanged, and *cap is its capacity; after ERR_NOMEM the
 * array and *cap are exactly as before (the caller still owns and frees the old block).
 */
#ifndef SETM_CORE_GROW_H
#define SETM_CORE_GROW_H

#include <stddef.h>

#define GROW_FIRST 16 /* capacity of a first allocation (unless more is needed) */

/* Make the array whose pointer is at `array` (a `T **`, passed as void * so no cast is needed)
 * hold at least `need` elements of `elem` bytes.  *cap is the current capacity in elements
 * (0 with a NULL array).  Returns 0, or ERR_NOMEM when memory runs out or need * elem would
 * overflow a size_t (elem 0 is refused the same way).  The pointer is read and written with
 * memcpy, so it may point to any object type. */
int grow_array(void *array, size_t *cap, size_t need, size_t elem);

#endif
