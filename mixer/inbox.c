#include <errno.h>
#include <stdlib.h>

#include "mixer/inbox.h"

int mx_inbox_init(struct mx_inbox *q, size_t pool_size)
{
	q->pool = calloc(pool_size, sizeof(*q->pool));
	if (!q->pool)
		return ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	q->head = q->tail = NULL;
	q->free_list = NULL;
	q->dropped = 0;
	for (size_t i = 0; i < pool_size; i++) {
		q->pool[i].pooled = true;
		q->pool[i].next = q->free_list;
		q->free_list = &q->pool[i];
	}
	return 0;
}

void mx_inbox_destroy(struct mx_inbox *q)
{
	mx_inbox_recycle(q, mx_inbox_take(q));
	pthread_mutex_destroy(&q->lock);
	free(q->pool);
	q->pool = NULL;
}

struct mx_msg *mx_inbox_get(struct mx_inbox *q)
{
	struct mx_msg *m;

	pthread_mutex_lock(&q->lock);
	m = q->free_list;
	if (m)
		q->free_list = m->next;
	else
		q->dropped++;
	pthread_mutex_unlock(&q->lock);
	return m;
}

void mx_inbox_push(struct mx_inbox *q, struct mx_msg *m)
{
	m->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	pthread_mutex_unlock(&q->lock);
}

struct mx_msg *mx_inbox_take(struct mx_inbox *q)
{
	struct mx_msg *list;

	pthread_mutex_lock(&q->lock);
	list = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return list;
}

void mx_inbox_unshift(struct mx_inbox *q, struct mx_msg *first, struct mx_msg *last)
{
	pthread_mutex_lock(&q->lock);
	last->next = q->head;
	q->head = first;
	if (!q->tail)
		q->tail = last;
	pthread_mutex_unlock(&q->lock);
}

void mx_inbox_recycle(struct mx_inbox *q, struct mx_msg *list)
{
	struct mx_msg *pooled = NULL, *last = NULL;

	while (list) {
		struct mx_msg *m = list;
		list = m->next;
		if (m->sender)
			tp_sender_unref(&m->sender);
		if (!m->pooled) {
			free(m);
			continue;
		}
		m->next = pooled;
		if (!pooled)
			last = m;
		pooled = m;
	}
	if (!pooled)
		return;
	pthread_mutex_lock(&q->lock);
	last->next = q->free_list;
	q->free_list = pooled;
	pthread_mutex_unlock(&q->lock);
}

bool mx_inbox_empty(struct mx_inbox *q)
{
	bool empty;

	pthread_mutex_lock(&q->lock);
	empty = q->head == NULL;
	pthread_mutex_unlock(&q->lock);
	return empty;
}

void mx_reply_init(struct mx_reply *r)
{
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->done = false;
	r->result = 0;
}

void mx_reply_destroy(struct mx_reply *r)
{
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
}

void mx_reply_done(struct mx_reply *r, int result)
{
	pthread_mutex_lock(&r->lock);
	r->result = result;
	r->done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

int mx_reply_wait(struct mx_reply *r)
{
	int result;

	pthread_mutex_lock(&r->lock);
	while (!r->done)
		pthread_cond_wait(&r->cond, &r->lock);
	result = r->result;
	pthread_mutex_unlock(&r->lock);
	return result;
}
