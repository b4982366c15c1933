/*
 * libsrtp2 as the reference for tutti's own SRTP (transport/srtp_tx.c,
 * OpenSSL): the policy tutti's sessions correspond to, set up once for
 * test_srtp_tx (byte-for-byte checks) and perf/bench_srtp (cost
 * beside it). Call tp_srtp_init() first: it initialises libsrtp2.
 */
#ifndef TUTTI_TESTS_UNIT_SRTP_REF_H
#define TUTTI_TESTS_UNIT_SRTP_REF_H

#include <stdbool.h>
#include <stdint.h>

#include <srtp2/srtp.h>

#include "transport/srtp.h"

/* A libsrtp2 session for prof with key (tp_srtp_key_len(prof) bytes,
 * copied): outbound for any SSRC, protecting as tutti does (replay
 * window 1024, retransmissions allowed), or inbound, unprotecting. The
 * caller owns *out (srtp_dealloc). Returns 0 or EPROTO (libsrtp2
 * refused the policy). */
int ref_srtp_new(srtp_t *out, enum tp_srtp_profile prof, const uint8_t *key,
		 bool inbound);

#endif
