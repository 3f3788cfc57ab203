// Where the HTTP credentials come from (URL or token variable), how they are sent, and how they are kept out of text.

export interface RemoteAuth {
  /** The Authorization header value, or undefined when nothing is sent. */
  header: string | undefined;
  /** Says where the credentials came from without showing them, for messages: 'a token from $NOTRACK_GIT_TOKEN'. */
  description: string;
  /** Whether any credentials are sent. */
  provided: boolean;
  /** Every form in which a secret could leak into text, for `redact`. */
  secrets: string[];
}

interface AuthInputs {
  urlCredentials: { username: string; password: string } | null;
  tokenEnv: string;
  username: string;
  env?: NodeJS.ProcessEnv;
}

/** Credentials written into the URL win, as with git itself; otherwise the token variable, sent as Basic auth. */
export function remoteAuth(inputs: AuthInputs): RemoteAuth {
  const env = inputs.env ?? process.env;
  let username: string;
  let password: string;
  let description: string;
  if (inputs.urlCredentials !== null) {
    ({ username, password } = inputs.urlCredentials);
    description = 'the credentials written in the URL';
  } else {
    const token = env[inputs.tokenEnv];
    if (token === undefined || token === '') {
      return {
        header: undefined,
        description: `no token ($${inputs.tokenEnv} is not set)`,
        provided: false,
        secrets: [],
      };
    }
    username = inputs.username;
    password = token;
    description = `a token from $${inputs.tokenEnv}`;
  }
  const basic = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
  const secrets = [password, basic, encodeURIComponent(password)].filter((s) => s.length >= 4);
  return { header: `Basic ${basic}`, description, provided: true, secrets };
}

/** Replaces every secret in `text` with `***`, longest first so a secret inside another is not half-shown. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret !== '') out = out.split(secret).join('***');
  }
  return out;
}
