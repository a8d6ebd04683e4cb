// The state API, with the dashboard's token.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Paged<T> {
  items: T[];
  total: number;
}

export class Api {
  constructor(private readonly token: string) {}

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const res = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) {
      const e = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
      throw new ApiError(res.status, e.error ?? 'HTTP', e.message ?? res.statusText);
    }
    return res;
  }

  async get<T>(path: string): Promise<T> {
    return (await this.request('GET', path)).json() as Promise<T>;
  }

  async page<T>(path: string): Promise<Paged<T>> {
    const res = await this.request('GET', path);
    return { items: (await res.json()) as T[], total: Number(res.headers.get('x-total-count') ?? 0) };
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return (await this.request('POST', path, body)).json() as Promise<T>;
  }

  async del<T>(path: string): Promise<T> {
    return (await this.request('DELETE', path)).json() as Promise<T>;
  }

  async text(path: string): Promise<string> {
    return (await this.request('GET', path)).text();
  }
}
