/* api: the handlers, one file per API family; routes.c puts them in the route table. */
#ifndef KASSE_API_H
#define KASSE_API_H

#include "http/http.h"

/* payments.c: Klarna Payments sessions (/payments/v1/sessions) */
int payments_create_session(struct req *r, struct reply *out, struct kerr *err);
int payments_read_session(struct req *r, struct reply *out, struct kerr *err);
int payments_update_session(struct req *r, struct reply *out, struct kerr *err);

/* control.c: Kasse's own endpoints (/kasse/v1) */
int control_read_log(struct req *r, struct reply *out, struct kerr *err);
int control_read_clock(struct req *r, struct reply *out, struct kerr *err);
int control_advance_clock(struct req *r, struct reply *out, struct kerr *err);

/* static.c: files embedded from web/ */
int static_get(struct req *r, struct reply *out, struct kerr *err);

#endif
