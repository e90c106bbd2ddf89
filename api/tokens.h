/* tokens.h: the token hooks the tenant resource shares with the token
 * resource: a tenant is created with its first token, minted and shown the
 * same way as every later one. */
#ifndef SKYVISOR_API_TOKENS_H
#define SKYVISOR_API_TOKENS_H

#include "api/crud.h"

/* before_insert hook: draws a new secret, puts it into 'obj' as "_token"
 * (the insert stores its SHA-256) and keeps it in ctx->extra for
 * tokens_show.  False after writing the problem. */
bool tokens_mint(struct crud_ctx *, json_t *obj);
/* decorate_created hook: adds the secret as "token" to the 201 body, the
 * only answer that ever shows it (an Idempotency-Key replay does not). */
void tokens_show(struct crud_ctx *, json_t *body);

#endif
