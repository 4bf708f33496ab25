"""Media servers: where the library lives and where playlists go.

One interface (`mediaserver.base.MediaProvider`), one module per server, and
`mediaserver.registry.provider_for(settings)` choosing by MEDIASERVER_TYPE.
"""
