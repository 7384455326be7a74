"""Settings, read once from the environment (and `.env`) and passed down; no globals."""
from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    With no `database_url` / `redis_url`, embedded PostgreSQL and Redis are started in
    `data_dir` (see app/embedded.py).
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    data_dir: Path = Field(default=ROOT / "var", validation_alias="CIRCLE_DATA_DIR")
    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("HOST", "CIRCLE_HOST"))
    port: int = Field(default=8080, validation_alias="PORT")
    secret_key: str | None = Field(default=None, validation_alias="CIRCLE_SECRET_KEY")
    token_ttl_hours: int = Field(default=24 * 14, validation_alias="CIRCLE_TOKEN_TTL_HOURS")
    # a token unused this long signs nobody in: staff (personal data of many elders), elder and family
    token_idle_hours_staff: int = Field(default=12, validation_alias="CIRCLE_TOKEN_IDLE_HOURS_STAFF")
    token_idle_hours_elder: int = Field(default=24 * 7, validation_alias="CIRCLE_TOKEN_IDLE_HOURS_ELDER")
    db_pool_size: int = Field(default=10, validation_alias="CIRCLE_DB_POOL_SIZE")
    redis_timeout_s: float = Field(default=0.5, validation_alias="CIRCLE_REDIS_TIMEOUT_S")
    login_attempts_per_minute: int = Field(default=10, validation_alias="CIRCLE_LOGIN_RATE")
    start_worker: bool = Field(default=True, validation_alias="CIRCLE_START_WORKER")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    # behind a reverse proxy the peer is the proxy: take the client from X-Forwarded-For
    trust_proxy: bool = Field(default=False, validation_alias="CIRCLE_TRUST_PROXY")
    # maps (issue 15): a tile URL template ({z}/{x}/{y}, optional {s}) for Leaflet; empty: the plain drawing.
    # Tianditu (WGS84/CGCS2000, needs &tk=KEY in the template), OpenStreetMap, or a local tile server.
    # AMap's tiles are GCJ-02: the map would be off by hundreds of metres against WGS84 positions, so
    # the consoles refuse an autonavi template (see README "Maps and positions").
    tile_url: str = Field(default="", validation_alias="CIRCLE_TILE_URL")
    tile_attribution: str = Field(default="", validation_alias="CIRCLE_TILE_ATTRIBUTION")
    # geocoding: "amap" (高德 web service, GCJ-02 converted to WGS84) or "tianditu" (天地图, WGS84); with
    # CIRCLE_GEOCODER_URL the same protocol is spoken to another base URL (the local stand-in of demo and tests)
    geocoder: str = Field(default="", validation_alias="CIRCLE_GEOCODER")
    geocoder_key: str = Field(default="", validation_alias="CIRCLE_GEOCODER_KEY")
    geocoder_url: str = Field(default="", validation_alias="CIRCLE_GEOCODER_URL")
    geocoder_city: str = Field(default="上海", validation_alias="CIRCLE_GEOCODER_CITY")
    # mount the local stand-ins (app/standins.py: AMap geocoding, map tiles) at /standin: the demo's
    standins: bool = Field(default=False, validation_alias="CIRCLE_STANDINS")

    def map_tiles(self) -> str:
        """The tile URL template the consoles may use: empty for none, and for AMap's GCJ-02 tiles."""
        return "" if "autonavi" in self.tile_url or "amap" in self.tile_url else self.tile_url
    # messages (core/outbox.py, core/sms.py): a configured webhook always wins over a provider's keys
    sms_webhook_url: str | None = Field(default=None, validation_alias="CIRCLE_SMS_WEBHOOK_URL")
    aliyun_access_key_id: str | None = Field(default=None, validation_alias="CIRCLE_ALIYUN_ACCESS_KEY_ID")
    aliyun_access_key_secret: str | None = Field(default=None, validation_alias="CIRCLE_ALIYUN_ACCESS_KEY_SECRET")
    aliyun_sms_sign_name: str = Field(default="一刻钟服务圈", validation_alias="CIRCLE_ALIYUN_SMS_SIGN_NAME")
    # an approved template with one variable ${text}
    aliyun_sms_template_code: str | None = Field(default=None, validation_alias="CIRCLE_ALIYUN_SMS_TEMPLATE_CODE")
    aliyun_sms_endpoint: str = Field(default="https://dysmsapi.aliyuncs.com/",
                                     validation_alias="CIRCLE_ALIYUN_SMS_ENDPOINT")
    # "21-7": no SMS from 21:00 to 07:00 local time (same-day changes excepted); empty: none
    quiet_hours: str = Field(default="21-7", validation_alias="CIRCLE_QUIET_HOURS")
    sms_per_phone_hour: int = Field(default=6, validation_alias="CIRCLE_SMS_PER_PHONE_HOUR")
    sms_max_attempts: int = Field(default=5, validation_alias="CIRCLE_SMS_MAX_ATTEMPTS")
    # with no gateway configured, `circle serve` starts the local stand-in gateway (core/sms.py)
    sms_standin: bool = Field(default=True, validation_alias="CIRCLE_SMS_STANDIN")
    noshow_after_min: int = Field(default=15, validation_alias="CIRCLE_NOSHOW_AFTER_MIN")
    # a visit nobody checked into by its planned end plus this becomes missed
    missed_grace_min: int = Field(default=30, validation_alias="CIRCLE_MISSED_GRACE_MIN")

    def resolved_secret(self) -> str:
        """The secret key; without one, a random key kept in the data folder (dev only)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
