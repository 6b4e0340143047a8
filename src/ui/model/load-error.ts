// A failed model load in words a user can act on (issue 14 item 5): offline, choosing a hub model used to show the raw
// hub URL and "Failed to fetch", cut off. The summary names the model and what to do; the full message (URLs and all)
// stays one click away. Pure, tested apart from React.

/** What browsers and Node say when a request never reached a server. */
const NETWORK = /Failed to fetch|NetworkError|Load failed|network error|fetch failed|ERR_INTERNET_DISCONNECTED|ERR_NAME_NOT_RESOLVED|ERR_CONNECTION/i;

export interface LoadErrorView {
  summary: string;
  /** The message as the loader gave it, when the summary says something else. */
  detail: string | null;
}

/** URLs shortened to their host (`https://huggingface.co/a/b/resolve/x/config.json` -> `huggingface.co`). */
export function hostsOnly(text: string): string {
  return text.replace(/\bhttps?:\/\/[^\s)]+/g, (u) => {
    const tail = /[.,:;]+$/.exec(u)?.[0] ?? '';
    try {
      return new URL(u.slice(0, u.length - tail.length)).host + tail;
    } catch {
      return u;
    }
  });
}

/**
 * `error` is the model slice's message ("Could not load GPT-2 Small: could not download https://...: Failed to
 * fetch"); `hub` is the chosen model's hub repository, when it is one; `label` its name; `stillLoaded` the model that
 * stayed loaded, if any.
 */
export function loadErrorView(error: string, opts: { label: string; hub?: string; stillLoaded?: string | null }): LoadErrorView {
  const kept = opts.stillLoaded ? ` ${opts.stillLoaded} is still loaded.` : '';
  if (NETWORK.test(error)) {
    const summary = opts.hub
      ? `${opts.label} could not be downloaded: the Hugging Face hub cannot be reached (offline, or huggingface.co is blocked). The offline toy models work without a network.${kept}`
      : `${opts.label} could not be downloaded: its server cannot be reached (offline, or the address is wrong).${kept}`;
    return { summary, detail: error };
  }
  const short = hostsOnly(error);
  return { summary: `${short}${kept}`, detail: short === error ? null : error };
}
