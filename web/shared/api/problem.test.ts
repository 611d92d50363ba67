import { describe, expect, it } from 'vitest'
import { createSharedI18n } from '../i18n'
import { fieldErrors, networkProblem, problemMessage, toProblem } from './problem'

function translator(locale: 'zh-CN' | 'en') {
  const i18n = createSharedI18n({ 'zh-CN': {}, en: {} }, locale)
  return (key: string): string | undefined =>
    i18n.global.te(key, locale) ? i18n.global.t(key, {}, { locale }) : undefined
}

const badCredentials = {
  type: 'https://zongji.dev/problems/invalid_credentials',
  title: 'Wrong account or password.',
  status: 401,
  code: 'invalid_credentials',
  message: { 'zh-CN': '账号或密码错误。', en: 'Wrong account or password.' },
}

describe('problem+json to a message in the user language', () => {
  it('uses the node message in the user language for a code the client has no wording for', () => {
    const p = toProblem(401, { ...badCredentials, code: 'some_new_code' })
    expect(problemMessage(p, 'zh-CN', translator('zh-CN'))).toBe('账号或密码错误。')
    expect(problemMessage(p, 'en', translator('en'))).toBe('Wrong account or password.')
  })

  it('prefers the client own wording for a stable code', () => {
    const p = toProblem(401, badCredentials)
    expect(problemMessage(p, 'zh-CN', translator('zh-CN'))).toBe('账号或密码不正确，请重新输入。')
    expect(problemMessage(p, 'en', translator('en'))).toBe(
      'The account or password is not correct. Please try again.',
    )
  })

  it('makes a problem of an answer that is not one', () => {
    const p = toProblem(502, '<html>Bad Gateway</html>')
    expect(p).toEqual({ status: 502, code: 'server_error' })
    expect(problemMessage(p, 'en', translator('en'))).toMatch(/server/i)
    expect(problemMessage(networkProblem(), 'zh-CN', translator('zh-CN'))).toMatch(/网络/)
  })

  it('keys field errors by field, translated where the code is known', () => {
    const p = toProblem(422, {
      status: 422,
      code: 'validation_failed',
      errors: [
        { field: 'new_password', code: 'string_too_short', message: 'String should have at least 8 characters' },
        { field: 'account', code: 'odd_new_code', message: 'odd', message_zh: '奇怪' },
      ],
    })
    const zh = fieldErrors(p, 'zh-CN', translator('zh-CN'))
    expect(zh['new_password']).toBe('内容太短')
    expect(zh['account']).toBe('奇怪')
    expect(fieldErrors(p, 'en', translator('en'))['account']).toBe('odd')
  })
})
