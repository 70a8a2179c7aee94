/**
 * kapu's errors: a stable `code`, an HTTP status, and `expose` (may the message be shown?).
 * One middleware (src/http/errors.ts) renders them as HTML or JSON. Messages shown to people
 * come from views/locales by `messageKey`, never from an exception's text.
 */
export class KapuError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly messageKey: string;

  constructor(code: string, status: number, messageKey: string, options?: { cause?: unknown; expose?: boolean }) {
    super(code, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.messageKey = messageKey;
    this.expose = options?.expose ?? status < 500;
  }
}

export class BadRequest extends KapuError {
  constructor(code = 'bad_request', messageKey = 'error.bad_request') {
    super(code, 400, messageKey);
  }
}

export class NotFound extends KapuError {
  constructor() {
    super('not_found', 404, 'error.not_found');
  }
}

/** The interaction is unknown, expired, or belongs to another browser. */
export class SessionExpired extends KapuError {
  constructor(cause?: unknown) {
    super('session_expired', 400, 'error.session_expired', { cause });
  }
}

export class CsrfFailed extends KapuError {
  constructor() {
    super('csrf_failed', 403, 'error.csrf');
  }
}

/** A step was posted that does not fit the flow's current state (back button, replayed form). */
export class WrongStep extends KapuError {
  constructor() {
    super('wrong_step', 409, 'error.wrong_step');
  }
}
