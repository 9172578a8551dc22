/**
 * Credentials (a password, an application credential secret, a token) never travel over plain http unless
 * the operator said so with the option named for it: a `--cacert` or a private network is no excuse, since
 * http ignores the CA bundle and anyone on the path reads the body and the X-Auth-Token header.
 */
import { InputError } from '../core/errors.ts';
import { redactUrl } from './upstream-error.ts';

export const ALLOW_INSECURE_HTTP_OPTION = '--allow-insecure-http';

/** Throws (exit 2, nothing sent) when `url` is http and credentials would go to it without the opt-in. */
export function refuseClearCredentials(url: string, field: string, allowInsecureHttp: boolean): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    return; // not a URL at all: the caller's own check names it
  }
  if (protocol === 'http:' && !allowInsecureHttp) {
    throw new InputError(
      field,
      redactUrl(url),
      `credentials would be sent in clear over http; use an https URL, or ${ALLOW_INSECURE_HTTP_OPTION} (clouds.yaml: allow_insecure_http: true) if this network is trusted`,
    );
  }
}
