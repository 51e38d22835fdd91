// A screen that follows the log: opens the SSE stream (filtered by project
// and/or run) for as long as the component lives; `onEvent` usually re-reads
// the screen's projection with min_position = the event's position, so the
// answer includes what the event changed.
import { onBeforeUnmount, onMounted, ref } from 'vue'
import { openStream, type WharfEvent } from './live'

export function useLive(filter: () => { project?: string; run?: string }, onEvent: (e: WharfEvent) => void) {
  const state = ref('connecting')
  let close: (() => void) | null = null
  onMounted(() => {
    close = openStream({ ...filter(), onEvent, onState: (s) => (state.value = s) })
  })
  onBeforeUnmount(() => close?.())
  return { state }
}
