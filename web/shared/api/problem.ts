// RFC 9457 problem+json as the node sends it: a stable `code` and a message in zh-CN and en.
// Pages never show raw server text: they show `problemMessage`, in the user's language.
import type { Locale } from '../format'

export interface FieldError {
  field: string
  code: string
  message: string
  /** The node's Chinese wording, when it has one (the domain's own field errors do). */
  message_zh?: string
}

export interface Problem {
  status: number
  code: string
  title?: string
  message?: Partial<Record<Locale, string>>
  errors?: FieldError[]
  [extra: string]: unknown
}

/** What a failed API call throws: the problem it answered, or a stand-in for a network failure. */
export class ApiError extends Error {
  readonly problem: Problem

  constructor(problem: Problem) {
    super(problem.title ?? problem.code)
    this.name = 'ApiError'
    this.problem = problem
  }

  get status(): number {
    return this.problem.status
  }

  get code(): string {
    return this.problem.code
  }
}

const GENERIC_BY_STATUS: Record<number, string> = {
  0: 'network_error',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  429: 'rate_limited',
}

/** The problem in an answer's body, or one made from its status when the body is not a problem
 * (a proxy's HTML error page, an empty 502). */
export function toProblem(status: number, body: unknown): Problem {
  if (body && typeof body === 'object' && typeof (body as { code?: unknown }).code === 'string') {
    const p = body as Problem
    return { ...p, status: typeof p.status === 'number' ? p.status : status }
  }
  return { status, code: GENERIC_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'error') }
}

export function networkProblem(): Problem {
  return { status: 0, code: 'network_error' }
}

/** A translator that knows the client's own wording for some codes (`errors.<code>`). */
export type Translate = (key: string) => string | undefined

/** The message a user reads: the client's wording for the code when it has one, else the node's
 * message in the user's language, else its title, else a generic sentence for the status. */
export function problemMessage(problem: Problem, locale: Locale, translate: Translate): string {
  const own = translate(`errors.${problem.code}`)
  if (own) return own
  const server = problem.message?.[locale]
  if (server) return server
  if (problem.title) return problem.title
  const generic = problem.status >= 500 ? 'errors.server_error' : 'errors.error'
  return translate(generic) ?? problem.code
}

/** Field errors of a 422, keyed by field: the client's wording where it knows the code
 * (Pydantic's `string_too_short` …), else the node's text in the user's language. */
export function fieldErrors(
  problem: Problem,
  locale: Locale,
  translate: Translate,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const e of problem.errors ?? []) {
    const zh = locale === 'zh-CN' ? e.message_zh : undefined
    out[e.field] = translate(`fieldErrors.${e.code}`) ?? zh ?? e.message
  }
  return out
}
