/*
 * dns_names.c - the bounded table of names (hashed, case-insensitive,
 * evicting the oldest finished entry) and the cache of names that engines
 * on several threads share: an engine asks it before resolving, copies an
 * answer that is there, waits for one another engine is getting, or
 * becomes the one that resolves it and publishes the answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) /* case-insensitive: DNS names are */
		h = (h ^ (uint8_t)(*s | 0x20)) * 16777619u;
	return h;
}

int rp__names_init(struct names *t, uint32_t n)
{
	t->n = n;
	t->nbuckets = 1;
	while (t->nbuckets < n)
		t->nbuckets <<= 1;
	/* calloc: pages are touched only as names arrive. */
	t->entries = calloc(n, sizeof(*t->entries));
	t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
	if (!t->entries || !t->buckets)
		return -ENOMEM;
	memset(t->buckets, 0xff, t->nbuckets * sizeof(*t->buckets));
	return 0;
}

void rp__names_release(struct names *t)
{
	free(t->entries);
	free(t->buckets);
}

uint32_t rp__names_find(const struct names *t, const char *name)
{
	uint32_t h = hash_name(name) & (t->nbuckets - 1);

	for (uint32_t i = t->buckets[h]; i != NONE; i = t->entries[i].hnext)
		if (!strcasecmp(t->entries[i].name, name))
			return i;
	return NONE;
}

/* The entry of name, a new E_EMPTY one (*fresh), or NONE if the table is
 * full of unfinished names. */
uint32_t rp__names_add(struct names *t, const char *name, bool *fresh)
{
	uint32_t h = hash_name(name) & (t->nbuckets - 1);
	uint32_t idx = rp__names_find(t, name);

	*fresh = false;
	if (idx != NONE)
		return idx;
	/* A never-used entry, else the oldest finished one. */
	if (t->used < t->n) {
		idx = t->used++;
	} else {
		for (uint32_t k = 0; k < t->n && idx == NONE; k++) {
			uint32_t c = t->evict;

			t->evict = (t->evict + 1) % t->n;
			if (t->entries[c].state == E_RESOLVED ||
			    t->entries[c].state == E_FAILED)
				idx = c;
		}
		if (idx == NONE)
			return NONE;
		struct entry *old = &t->entries[idx];
		uint32_t *pp = &t->buckets[hash_name(old->name) &
					   (t->nbuckets - 1)];
		while (*pp != idx)
			pp = &t->entries[*pp].hnext;
		*pp = old->hnext;
	}
	struct entry *en = &t->entries[idx];
	snprintf(en->name, sizeof(en->name), "%s", name);
	en->gen++;
	en->state = E_EMPTY;
	en->waiters = NONE;
	en->owner = NULL;
	en->hnext = t->buckets[h];
	t->buckets[h] = idx;
	*fresh = true;
	return idx;
}

int rp_dns_cache_create(struct rp_dns_cache **out, uint32_t size)
{
	struct rp_dns_cache *c;

	if (size > RP_DNS_CACHE_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (rp__names_init(&c->t, size ? size : 16384) < 0) {
		rp__names_release(&c->t);
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void rp_dns_cache_destroy(struct rp_dns_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	rp__names_release(&c->t);
	free(c);
}

/* Copies a finished shared entry into a local one. */
void rp__copy_answer(struct entry *dst, const struct entry *src)
{
	dst->state = src->state;
	dst->reason = src->reason;
	dst->err = src->err;
	memcpy(dst->addr, src->addr, sizeof(dst->addr));
	dst->naddrs = src->naddrs;
}

/*
 * Before resolving a name itself, an engine asks the shared cache: the
 * answer may be there already (copied, true), or another engine may be
 * resolving it (the local entry waits as E_REMOTE, true). Otherwise this
 * engine becomes its owner (false: go and resolve it).
 */
bool rp__shared_ask(struct rp_engine *e, uint32_t idx)
{
	struct rp__dns *d = e->dns;
	struct rp_dns_cache *c = d->shared;
	struct entry *en = &d->t.entries[idx];
	bool fresh, handled = false;
	uint32_t si;

	if (!c)
		return false;
	pthread_mutex_lock(&c->mu);
	si = rp__names_add(&c->t, en->name, &fresh);
	if (si != NONE) {
		struct entry *se = &c->t.entries[si];

		if (se->state == E_RESOLVED || se->state == E_FAILED) {
			rp__copy_answer(en, se);
			handled = true;
		} else if (!fresh && se->owner && se->owner != e) {
			en->state = E_REMOTE;
			en->qnext = d->remote;
			d->remote = idx;
			handled = true;
		} else {
			se->state = E_ACTIVE;
			se->owner = e;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return handled;
}

/* An answer of ours goes to the shared cache, and the other engines are
 * woken to look; a cancelled lookup only gives the name up. */
void rp__shared_publish(struct rp_engine *e, const struct entry *en,
			bool answer)
{
	struct rp_dns_cache *c = e->dns->shared;
	uint32_t si;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	si = rp__names_find(&c->t, en->name);
	if (si != NONE && c->t.entries[si].owner == e) {
		struct entry *se = &c->t.entries[si];

		se->owner = NULL;
		if (answer)
			rp__copy_answer(se, en);
		atomic_fetch_add(&c->version, 1);
		for (unsigned i = 0; i < c->nengines; i++)
			if (c->engines[i] != e)
				rp_engine_wake(c->engines[i]);
	}
	pthread_mutex_unlock(&c->mu);
}
