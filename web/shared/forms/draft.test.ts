import { describe, expect, it } from 'vitest'
import { reactive } from 'vue'
import { useDraft } from './draft'

class MemoryStorage {
  items = new Map<string, string>()
  getItem = (k: string): string | null => this.items.get(k) ?? null
  setItem = (k: string, v: string): void => void this.items.set(k, v)
  removeItem = (k: string): void => void this.items.delete(k)
}

describe('form drafts', () => {
  it('brings back what was typed when the form comes back, passwords excepted', () => {
    const storage = new MemoryStorage()
    const first = reactive({ name: '', note: '', password: '' })
    const draft = useDraft('user-new', first, { omit: ['password'], storage })
    first.name = '张三'
    first.note = 'Sales'
    first.password = 'secret-1'
    draft.stop() // the page went away (session expired, login page shown)

    const again = reactive({ name: '', note: '', password: '' })
    useDraft('user-new', again, { omit: ['password'], storage })
    expect(again).toEqual({ name: '张三', note: 'Sales', password: '' })
    expect(storage.getItem('zongji.draft.user-new')).not.toContain('secret-1')
  })

  it('forgets the draft once the form was sent', () => {
    const storage = new MemoryStorage()
    const form = reactive({ name: '' })
    const draft = useDraft('dept', form, { storage })
    form.name = 'R&D'
    draft.clear()
    form.name = 'changed after clear'
    const again = reactive({ name: '' })
    useDraft('dept', again, { storage })
    expect(again.name).toBe('')
  })

  it('ignores a draft it cannot read', () => {
    const storage = new MemoryStorage()
    storage.setItem('zongji.draft.x', '{not json')
    const form = reactive({ a: 1 })
    useDraft('x', form, { storage })
    expect(form.a).toBe(1)
  })
})
