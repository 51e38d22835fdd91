// A screen that follows the log: opens the SSE stream (filtered by project
// and/or run) for as long as the component lives; `onEvent` usually re-reads
// the screen's projection with min_position = the event's position, so the
// answer includes what the event changed.
import { onBeforeUnmount, onMounted, ref, watch } from 'vue'
import { useRoute } from 'vue-router'
import { useLoad } from './load'
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

// The usual screen: `fetcher(query)` read on mount, again when ?at= changes,
// and again on every live event (with min_position = that event) unless the
// screen looks at the past.
export function useFollowedQuery<T>(
  filter: () => { project?: string; run?: string },
  fetcher: (query: { at?: string; min_position?: number }) => Promise<T>,
  onEvent?: (e: WharfEvent) => void,
) {
  const route = useRoute()
  const minPosition = ref(0)
  const query = () => {
    const at = route.query.at ? String(route.query.at) : undefined
    return { at, min_position: at ? undefined : minPosition.value || undefined }
  }
  const load = useLoad(() => fetcher(query()))
  onMounted(load.reload)
  watch(() => route.query.at, load.reload)
  const { state } = useLive(filter, (e) => {
    onEvent?.(e)
    if (route.query.at) return
    minPosition.value = Math.max(minPosition.value, Number(e.position))
    void load.reload()
  })
  return { ...load, live: state }
}
